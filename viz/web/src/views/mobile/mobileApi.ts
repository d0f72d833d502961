import { authHeaders, clearSession } from '../../api'

/** The answer to a phone form's request: the body when it worked, the field messages when not. */
export interface SendResult<T> {
  ok: boolean
  status: number
  data: T | null
  /** Top-level message in Chinese (the API's detail, or the first field message). */
  message: string
  /** field -> message, from the app's 422 shape `{detail, errors: [{field, message}]}`. */
  fields: Record<string, string>
}


/** POST/GET JSON without throwing: the phone pages show field messages under their inputs. */
export async function send<T>(path: string, method: 'GET' | 'POST' = 'POST', body?: unknown): Promise<SendResult<T>> {
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders() }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  if (res.status === 401) {
    clearSession()
    window.location.hash = '#/login'
  }
  let parsed: unknown = null
  try {
    parsed = await res.json()
  } catch {
    /* not JSON */
  }
  if (res.ok) return { ok: true, status: res.status, data: parsed as T, message: '', fields: {} }
  const fields: Record<string, string> = {}
  let message = `${res.status} ${res.statusText}`
  if (parsed && typeof parsed === 'object') {
    const p = parsed as { detail?: unknown; errors?: { field?: string; message?: string }[] }
    if (typeof p.detail === 'string') message = p.detail
    for (const e of p.errors ?? []) {
      const name = (e.field ?? '').split('.').filter((s) => s !== 'query').pop() ?? ''
      if (name && e.message) fields[name] = e.message.replace(/^Value error, /, '')
    }
    const first = Object.values(fields)[0]
    if (res.status === 422 && first) message = first
  }
  return { ok: false, status: res.status, data: null, message, fields }
}

const PLANT_TZ = 'Asia/Shanghai'
const dayFmt = new Intl.DateTimeFormat('en-CA', { timeZone: PLANT_TZ, year: 'numeric', month: '2-digit', day: '2-digit' })
const shortFmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: PLANT_TZ,
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
})

/** The plant's calendar date (Asia/Shanghai) as YYYY-MM-DD, `days` from today. */
export function localDate(days = 0): string {
  return dayFmt.format(Date.now() + days * 86_400_000)
}

/** Plant time (Asia/Shanghai) as the phone shows it: MM/DD HH:mm. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '—'
  const ms = Date.parse(iso)
  return Number.isFinite(ms) ? shortFmt.format(ms) : String(iso)
}

/** The current plant time as a `datetime-local` value (YYYY-MM-DDTHH:mm). */
export function plantNowInput(): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone: PLANT_TZ,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hour12: false,
    })
      .formatToParts(Date.now())
      .map((p) => [p.type, p.value]),
  )
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour === '24' ? '00' : parts.hour}:${parts.minute}`
}

/** A `datetime-local` value read as plant time (UTC+8, no daylight saving) to ISO 8601 with zone. */
export function plantInputToIso(value: string): string {
  return `${value.length === 16 ? `${value}:00` : value}+08:00`
}

interface DetectedBarcode {
  rawValue: string
}
interface BarcodeDetectorLike {
  detect(source: ImageBitmapSource): Promise<DetectedBarcode[]>
}
type BarcodeDetectorCtor = new (opts?: { formats?: string[] }) => BarcodeDetectorLike

/** Whether the browser can read a QR code from a picture (Shape Detection API). */
export function canDecodeQr(): boolean {
  return typeof (window as unknown as { BarcodeDetector?: unknown }).BarcodeDetector === 'function'
}

/** The text of the first QR code in the picture, or null (no decoder, or nothing found). */
export async function decodeQr(file: File): Promise<string | null> {
  const Ctor = (window as unknown as { BarcodeDetector?: BarcodeDetectorCtor }).BarcodeDetector
  if (!Ctor) return null
  try {
    const bitmap = await createImageBitmap(file)
    const codes = await new Ctor({ formats: ['qr_code'] }).detect(bitmap)
    return codes[0]?.rawValue ?? null
  } catch {
    return null
  }
}
