import type { LiveMessage } from './types'

export type LiveState = 'connecting' | 'open' | 'closed'

export interface LiveOptions {
  token: () => string | null
  onMessage: (msg: LiveMessage) => void
  onState?: (state: LiveState) => void
  /** Called when the server refuses the token (close code 4401 or 1008). */
  onUnauthorized?: () => void
  minDelayMs?: number
  maxDelayMs?: number
}

/** The `/ws/live` stream, reconnecting with exponential back-off (with jitter) until stopped. */
export class LiveSocket {
  private ws: WebSocket | null = null
  private timer: number | null = null
  private attempt = 0
  private stopped = false

  constructor(private readonly opts: LiveOptions) {}

  start(): void {
    this.stopped = false
    this.connect()
  }

  stop(): void {
    this.stopped = true
    if (this.timer !== null) window.clearTimeout(this.timer)
    this.timer = null
    this.ws?.close(1000)
    this.ws = null
  }

  private connect(): void {
    const token = this.opts.token()
    if (!token || this.stopped) return
    const proto = location.protocol === 'https:' ? 'wss' : 'ws'
    // The token travels as a subprotocol, not in the URL: URLs end up in proxy and access logs.
    const url = `${proto}://${location.host}/ws/live`
    this.opts.onState?.('connecting')
    const ws = new WebSocket(url, ['safetwin.bearer', token])
    this.ws = ws
    ws.onopen = () => {
      this.attempt = 0
      this.opts.onState?.('open')
    }
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== 'string') return
      try {
        this.opts.onMessage(JSON.parse(ev.data) as LiveMessage)
      } catch (err) {
        console.warn('live: bad frame', err)
      }
    }
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return
      this.ws = null
      this.opts.onState?.('closed')
      if (ev.code === 4401 || ev.code === 1008) {
        this.opts.onUnauthorized?.()
        return
      }
      this.schedule()
    }
  }

  private schedule(): void {
    if (this.stopped) return
    const min = this.opts.minDelayMs ?? 1000
    const max = this.opts.maxDelayMs ?? 30000
    const delay = Math.min(max, min * 2 ** this.attempt) * (0.75 + Math.random() * 0.5)
    this.attempt += 1
    this.timer = window.setTimeout(() => {
      this.timer = null
      this.connect()
    }, delay)
  }
}
