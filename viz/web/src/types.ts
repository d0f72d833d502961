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
