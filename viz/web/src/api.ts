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
  if (res.status === 401) {
    clearSession()
    onUnauthorized()
  }
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res))
  if (res.status === 204 || res.status === 202) {
    const text = await res.text()
    return (text ? JSON.parse(text) : null) as T
  }
  return (await res.json()) as T
}

export async function login(username: string, password: string): Promise<LoginResponse> {
  const res = await fetch('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  if (!res.ok) throw new ApiError(res.status, res.status === 401 ? '用户名或密码错误' : await errorMessage(res))
  const body = (await res.json()) as LoginResponse
  localStorage.setItem(TOKEN_KEY, body.access_token)
  localStorage.setItem(USER_KEY, JSON.stringify(body.user))
  return body
}

export function logout(): void {
  clearSession()
}
