/** Shapes of the SafeTwin API (see api/ on the Python side; field names follow twin/plant.py). */

export interface User {
  username: string
  display_name: string
  roles: string[]
}

export interface LoginResponse {
  access_token: string
  token_type: string
  expires_in: number
  user: User
}

export interface Limits {
  ll: number | null
  l: number | null
  h: number | null
  hh: number | null
}

export type Vec2 = [number, number]
export type Vec3 = [number, number, number]

export interface EquipmentInfo {
  id: string
  name: string
  kind: string
  area: string
  hazard_source: string | null
  position: Vec3
  size: Vec3
}

export interface TagInfo {
  tag: string
  name: string
  equipment: string
  kind: string
  unit: string
  range?: Vec2
  limits: Limits
}

export interface AreaInfo {
  id: string
  name: string
  name_en?: string
  kind: string
  bounds: [Vec2, Vec2]
}

export interface PlantResponse {
  plant: { id: string; name: string; name_en: string; size: Vec2 }
  areas: AreaInfo[]
  hazard_sources: { id: string; name: string; area: string }[]
  equipment: EquipmentInfo[]
  tags: TagInfo[]
  anchors: { id: string; position: Vec3 }[]
  cameras: { id: string; name: string; position: Vec3; zone: string | null }[]
  zones: { id: string; name: string; kind: string; polygon: Vec2[] }[]
}

/** A timestamp as the API sends it: epoch milliseconds or an ISO-8601 string. */
export type Timestamp = number | string

export interface Reading {
  tag: string
  ts: Timestamp
  value: number | null
  quality: string
  source?: string
}

export interface TagRow extends Omit<TagInfo, 'range'> {
  latest: Reading | null
}

export interface AlarmEvent {
  alarm_id: string
  source_kind: string
  source_id: string
  kind: string
  priority: number | string
  state: string
  ts: Timestamp
  value: number | null
  limit: number | null
  message: string
}

export interface HistoryPoint {
  ts: Timestamp
  min: number | null
  max: number | null
  avg: number | null
  last: number | null
  count: number
}

export interface HistoryResponse {
  tag: string
  points: HistoryPoint[]
}

export type LiveMessage =
  | { stream: 'sensor.reading'; data: Reading[] }
  | { stream: 'alarm.event'; data: AlarmEvent[] }
  | { stream: string; data: unknown }

/** One alarm occurrence of the alarm register (`/api/v1/alarm-records`, registers/alarms). */
export interface AlarmRecord {
  id: number
  alarm_id: string
  source_kind: string
  tag: string
  kind: string
  priority: 'critical' | 'high' | 'medium' | 'low' | string
  area: string | null
  state: string
  state_label: string
  underlying_state: string
  raised_at: string
  last_activated_at: string
  returned_at: string | null
  cleared_at: string | null
  acked_at: string | null
  acked_by: string | null
  shelved_until: string | null
  shelved_by: string | null
  shelve_reason: string
  value: number | null
  limit: number | null
  message: string
  activation_count: number
  chattering: boolean
  /** open / closed, or null without a disposal */
  disposal_status: string | null
  /** Operator actions the current state accepts: ack, shelve, unshelve, suppress, ... */
  allowed_actions: string[]
}

export interface AlarmRecordPage {
  items: AlarmRecord[]
  total: number
  page: number
  size: number
}

export interface AlarmDisposal {
  id: number
  handler: string
  opened_by: string
  opened_at: string
  cause: string
  measures: string
  status: string
  status_label: string
  closed_by: string | null
  closed_at: string | null
  closing_note: string
}

export interface AlarmTransition {
  id: number
  trigger: string
  trigger_label: string
  from_state: string
  to_state: string
  actor: string | null
  at: string
  comment: string
}

export interface AlarmRecordDetail extends AlarmRecord {
  transitions: AlarmTransition[]
  comments: { id: number; author: string; at: string; text: string }[]
  disposal: AlarmDisposal | null
}

/** ISA-18.2 / EEMUA 191 alarm-system performance (`/api/v1/alarm-kpis`). */
export interface AlarmKpis {
  start: string
  end: string
  hours: number
  annunciated: number
  positions: { area: string; annunciated: number; per_hour: number; peak_10min: number; peak_10min_start: string | null }[]
  per_hour_avg: number
  peak_10min: number
  top10: { alarm_id: string; tag: string; kind: string; count: number; share: number }[]
  top10_share: number
  standing: { id: number; alarm_id: string; tag: string; raised_at: string; hours_active: number }[]
  chattering: { alarm_id: string; tag: string; kind: string; max_per_minute: number }[]
  floods: { area: string; start: string; end: string; annunciated: number }[]
  flood_time_share: number
  acked: number
  ack_median_s: number | null
  targets: Record<string, number>
}
