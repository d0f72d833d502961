import type { RouteLocationNormalizedLoaded } from 'vue-router'
import { registerByKey } from './registers'

/** The page's name for the header and the browser tab (a register page: the register's title). */
export function routeTitle(route: RouteLocationNormalizedLoaded): string {
  if (route.name === 'register') {
    const key = route.params.key
    return registerByKey(typeof key === 'string' ? key : '')?.title ?? '台账管理'
  }
  return typeof route.meta.title === 'string' ? route.meta.title : ''
}
