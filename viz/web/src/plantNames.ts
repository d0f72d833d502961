import { api } from './api'
import type { PlantResponse } from './types'

/** Area id -> Chinese name from the plant model, loaded once per page load. */
let areas: Promise<Map<string, string>> | null = null

export function areaNames(): Promise<Map<string, string>> {
  areas ??= api<PlantResponse>('/api/v1/plant')
    .then((p) => new Map(p.areas.map((a) => [a.id, a.name])))
    .catch(() => {
      areas = null // try again next time; show the ids meanwhile
      return new Map<string, string>()
    })
  return areas
}

/** Record id -> one field of it, for a register another register points into (e.g. person_id). */
const refs = new Map<string, Promise<Map<number, string>>>()

export function refNames(prefix: string, label: string): Promise<Map<number, string>> {
  const key = `${prefix}#${label}`
  let found = refs.get(key)
  if (!found) {
    found = api<{ items: Record<string, unknown>[] }>(`${prefix}?size=500&sort=id`)
      .then((page) => new Map(page.items.map((r) => [Number(r.id), String(r[label] ?? r.id)])))
      .catch(() => {
        refs.delete(key)
        return new Map<number, string>()
      })
    refs.set(key, found)
  }
  return found
}
