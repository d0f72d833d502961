import type { LoginResponse, User } from './types'

const TOKEN_KEY = 'safetwin.token'
const USER_KEY = 'safetwin.user'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY)
}

export function getUser(): User | null {
  const raw = localStorage.getItem(USER_KEY)
  if (!raw) return null
  try {
    return JSON.parse(raw) as User
  } catch {
    return null
  }
}

export function clearSession(): void {
  localStorage.removeItem(TOKEN_KEY)
  localStorage.removeItem(USER_KEY)
}

let onUnauthorized: () => void = () => {}

/** What to do when the API answers 401 (the router sends the user back to the login page). */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler
}

export function authHeaders(): Record<string, string> {
  const token = getToken()
  return token ? { Authorization: `Bearer ${token}` } : {}
}

async function errorMessage(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { detail?: unknown; message?: unknown }
    const detail = body.detail ?? body.message
    if (typeof detail === 'string') return detail
    if (Array.isArray(detail)) {
      // FastAPI validation errors: [{loc: [...], msg}] -> "field: message; ..."
      return detail
        .map((d: { loc?: unknown[]; msg?: unknown }) => {
          const field = Array.isArray(d.loc) ? d.loc.filter((x) => x !== 'body' && x !== 'query').join('.') : ''
          return field ? `${field}: ${String(d.msg ?? '')}` : String(d.msg ?? JSON.stringify(d))
        })
        .join('；')
    }
    if (detail !== undefined) return JSON.stringify(detail)
  } catch {
    /* not JSON */
  }
  return `${res.status} ${res.statusText}`
}

/** GET/POST JSON from the API with the bearer token; throws ApiError on a non-2xx answer. */
export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders() }
  if (init.body !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(path, { ...init, headers: { ...headers, ...(init.headers as Record<string, string>) } })
  handleUnauthorized(res)
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res))
  if (res.status === 204 || res.status === 202) {
    const text = await res.text()
    return (text ? JSON.parse(text) : null) as T
  }
  return (await res.json()) as T
}

function handleUnauthorized(res: Response): void {
  if (res.status === 401) {
    clearSession()
    onUnauthorized()
  }
}

/** The file name a download should get: RFC 5987 `filename*=` first, then `filename=`. */
export function filenameFrom(disposition: string | null, fallback: string): string {
  if (!disposition) return fallback
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(disposition)
  if (star?.[1]) {
    try {
      return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ''))
    } catch {
      /* fall through to the plain name */
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/.exec(disposition)
  return plain?.[1]?.trim() || fallback
}

/**
 * Download a file from the API with the bearer token (a plain link cannot send the header):
 * fetch it as a blob and click a temporary object URL. Returns the file name used.
 */
export async function download(path: string, fallbackName: string): Promise<string> {
  const res = await fetch(path, { headers: authHeaders() })
  handleUnauthorized(res)
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res))
  const name = filenameFrom(res.headers.get('Content-Disposition'), fallbackName)
  const url = URL.createObjectURL(await res.blob())
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.appendChild(a)
  a.click()
  a.remove()
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000)
  return name
}

/** The answer to a multipart upload: status plus the parsed JSON body (null when not JSON). */
export interface UploadResult<T> {
  status: number
  ok: boolean
  body: T | null
  message: string
}

/** POST one file as multipart/form-data (field `file`); never throws on an HTTP error status. */
export async function upload<T>(path: string, file: File): Promise<UploadResult<T>> {
  const form = new FormData()
  form.append('file', file, file.name)
  const res = await fetch(path, { method: 'POST', headers: { Accept: 'application/json', ...authHeaders() }, body: form })
  handleUnauthorized(res)
  let body: T | null = null
  let message = `${res.status} ${res.statusText}`
  try {
    body = (await res.json()) as T
    const detail = (body as { detail?: unknown } | null)?.detail
    if (typeof detail === 'string') message = detail
  } catch {
    /* not JSON */
  }
  return { status: res.status, ok: res.ok, body, message }
}

/** The password was right; the account has a second factor (TOTP): ask for the code and log in again. */
export class OtpRequiredError extends ApiError {}

export async function login(username: string, password: string, otp?: string): Promise<LoginResponse> {
  const res = await fetch('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(otp ? { username, password, otp } : { username, password }),
  })
  if (res.status === 401 && res.headers.get('X-OTP-Required') === 'true') throw new OtpRequiredError(401, '请输入动态口令')
  if (!res.ok) throw new ApiError(res.status, res.status === 401 ? (otp ? '用户名、密码或动态口令错误' : '用户名或密码错误') : await errorMessage(res))
  const body = (await res.json()) as LoginResponse
  localStorage.setItem(TOKEN_KEY, body.access_token)
  localStorage.setItem(USER_KEY, JSON.stringify(body.user))
  return body
}

/**
 * Log out: the server revokes the token first (a copy of it, say in a stolen backup of the
 * browser profile, stops working at once rather than at expiry), then the local session ends.
 * Never throws: without a network the token still expires on its own, and the user is out here.
 */
export async function logout(): Promise<void> {
  const headers = authHeaders()
  if (headers.Authorization) {
    try {
      await fetch('/api/v1/auth/logout', { method: 'POST', headers: { Accept: 'application/json', ...headers } })
    } catch {
      /* offline: nothing more to do than forget the token */
    }
  }
  clearSession()
}
