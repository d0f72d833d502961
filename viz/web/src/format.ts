import type { AlarmEvent, Limits, Timestamp } from './types'

/** Epoch milliseconds of an API timestamp (ms number, seconds number, or ISO string). */
export function toMillis(ts: Timestamp): number {
  if (typeof ts === 'number') return ts < 1e11 ? ts * 1000 : ts
  return Date.parse(ts)
}

const timeFmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
})

const dateTimeFmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
})

/** Local plant time (Asia/Shanghai), HH:mm:ss. */
export function formatTime(ts: Timestamp): string {
  const ms = toMillis(ts)
  return Number.isFinite(ms) ? timeFmt.format(ms) : '—'
}

export function formatDateTime(ts: Timestamp): string {
  const ms = toMillis(ts)
  return Number.isFinite(ms) ? dateTimeFmt.format(ms) : '—'
}

export function formatValue(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—'
  const abs = Math.abs(value)
  const digits = abs >= 100 ? 1 : abs >= 10 ? 2 : 3
  return value.toFixed(digits)
}

export type TagLevel = 'HH' | 'H' | 'L' | 'LL' | 'normal' | 'bad' | 'none'

/** Where a value sits against its alarm limits (the alarm engine is authoritative; this is for colour). */
export function limitLevel(value: number | null | undefined, limits: Limits, quality?: string): TagLevel {
  if (value === null || value === undefined) return 'none'
  if (quality && quality.toLowerCase() !== 'good') return 'bad'
  if (limits.hh !== null && limits.hh !== undefined && value >= limits.hh) return 'HH'
  if (limits.h !== null && limits.h !== undefined && value >= limits.h) return 'H'
  if (limits.ll !== null && limits.ll !== undefined && value <= limits.ll) return 'LL'
  if (limits.l !== null && limits.l !== undefined && value <= limits.l) return 'L'
  return 'normal'
}

export const LEVEL_LABEL: Record<TagLevel, string> = {
  HH: '高高报',
  H: '高报',
  L: '低报',
  LL: '低低报',
  normal: '正常',
  bad: '质量异常',
  none: '无数据',
}

export const ALARM_KIND_LABEL: Record<string, string> = {
  HH: '高高报',
  H: '高报',
  L: '低报',
  LL: '低低报',
  ROC: '变化率',
  BAD: '坏质量',
  STALE: '数据中断',
}

export function alarmKindLabel(alarm: AlarmEvent): string {
  return ALARM_KIND_LABEL[alarm.kind] ?? alarm.kind
}

/** Element Plus tag type for a level. */
export function levelType(level: TagLevel): 'danger' | 'warning' | 'success' | 'info' {
  if (level === 'HH' || level === 'LL') return 'danger'
  if (level === 'H' || level === 'L' || level === 'bad') return 'warning'
  if (level === 'normal') return 'success'
  return 'info'
}

/** Alarms that end the active state. */
export function isClearing(state: string): boolean {
  return ['returned', 'cleared', 'closed', 'normal', 'inactive'].includes(state.toLowerCase())
}

const fullDateTimeFmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
})

/** Plant time (Asia/Shanghai) with the year, `2026/11/28 16:23:03`; '—' for none. */
export function formatFullDateTime(ts: Timestamp | null | undefined): string {
  if (ts === null || ts === undefined || ts === '') return '—'
  const ms = toMillis(ts)
  return Number.isFinite(ms) ? fullDateTimeFmt.format(ms) : String(ts)
}

const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/

/**
 * A register cell as text: ISO date-times in plant time, booleans as 是/否, lists joined,
 * nothing as '—'. Plain dates (`2027-06-30`) are calendar days and stay as they are.
 */
export function formatCell(value: unknown): string {
  if (value === null || value === undefined || value === '') return '—'
  if (typeof value === 'boolean') return value ? '是' : '否'
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000)
  if (typeof value === 'string') return ISO_DATETIME.test(value) ? formatFullDateTime(value) : value
  if (Array.isArray(value)) return value.length ? value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : formatCell(v))).join('；') : '—'
  return JSON.stringify(value)
}

const CN_DIGITS = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九']

/** Hazard-source grade 1..4 as 一级..四级 (GB 18218); '—' for an unrated source. */
export function gradeLabel(grade: unknown): string {
  if (typeof grade !== 'number' || !Number.isInteger(grade) || grade < 1 || grade > 9) return '—'
  return `${CN_DIGITS[grade]}级`
}
