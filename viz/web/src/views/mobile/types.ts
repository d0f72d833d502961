/** Shapes of the phone pages' API answers (registers/inspections, hidden_hazards, permits schemas). */

export interface RoundStep {
  action: string
  by: string
  at: string
  point?: string
  item?: string
  missed?: string
}

export interface Round {
  id: number
  plan_id: number
  route_id: number
  assignee: string
  slot_start: string
  slot_end: string
  state: string
  started_at: string | null
  finished_at: string | null
  missed_point_ids: number[]
  late_point_ids: number[]
  steps: RoundStep[]
}

export interface RoundPage {
  items: Round[]
  total: number
}

export interface InspectionRoute {
  id: number
  name: string
  point_ids: number[]
  minutes_per_point: number
}

export interface InspectionPoint {
  id: number
  code: string
  name: string
  area: string | null
  equipment_code: string | null
  tag_code: string
}

export interface CheckItem {
  id: number
  point_id: number
  name: string
  unit: string | null
  low: number | null
  high: number | null
  hazard_level: string
}

export interface Page<T> {
  items: T[]
  total: number
}

export interface ReadingResult {
  id: number
  item_id: number
  value: number
  in_range: boolean
  hazard_id: number | null
}

export interface HazardRecord {
  id: number
  name: string
  level: string
  state: string
}

export interface GasAnalysis {
  id: number
  analyst: string
  sampled_at: string
  point: string
  readings: { kind: string; substance: string; value: number; unit: string }[]
  passed: boolean
  reasons: string[]
}

export interface PermitInfo {
  id: number
  number: string
  work_type: string
  grade: string
  status: string
  title: string
  content: string
  area: string | null
  location: string | null
  planned_start: string
  planned_end: string
  valid_until: string
  gas_required: boolean
  guardian_id: number
  risks: string[]
}

export interface PermitFile {
  permit: PermitInfo
  measures: { id: number; seq: number; content: string; involved: boolean; confirmed_by: string | null }[]
  analyses: GasAnalysis[]
  allowed_events: string[]
  next_approval: string | null
  gas_fresh_until: string | null
}
