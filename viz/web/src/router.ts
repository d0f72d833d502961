import { createRouter, createWebHashHistory } from 'vue-router'
import { getToken, getUser, setUnauthorizedHandler } from './api'
import LoginView from './views/LoginView.vue'
import AppLayout from './layout/AppLayout.vue'
import { registerByKey } from './registers'
import { routeTitle } from './routeTitle'

// Hash history: the API serves index.html at "/" only, and deep links still work.
export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/login', name: 'login', component: LoginView, meta: { public: true, title: '登录' } },
    {
      path: '/',
      component: AppLayout,
      children: [
        { path: '', name: 'twin', component: () => import('./views/TwinView.vue'), meta: { title: '数字孪生' } },
        { path: 'alarms', name: 'alarms', component: () => import('./views/AlarmsView.vue'), meta: { title: '报警管理' } },
        { path: 'overview', name: 'overview', component: () => import('./views/OverviewView.vue'), meta: { title: '总览' } },
        { path: 'trends', name: 'trends', component: () => import('./views/TrendsView.vue'), meta: { title: '趋势对比' } },
        {
          // 用户与角色 (三员分立): the security administrator edits, the auditor reads
          path: 'users',
          name: 'users',
          component: () => import('./views/UsersView.vue'),
          meta: { title: '用户与角色' },
          beforeEnter: () => (canManageUsers() ? true : { name: 'twin' }),
        },
        {
          path: 'registers/:key',
          name: 'register',
          component: () => import('./views/RegisterView.vue'),
          meta: { title: '台账管理' },
          beforeEnter: (to) => (registerByKey(String(to.params.key)) ? true : { name: 'twin' }),
        },
        {
          // the monthly 包保 assessment reports issued on schedule
          path: 'reports/hazard-sources',
          name: 'duty-reports',
          component: () => import('./views/ReportsView.vue'),
          meta: { title: '包保考核报告' },
        },
      ],
    },
    {
      // phone pages (390 px): no side menu, a tab bar at the bottom
      path: '/m',
      component: () => import('./views/mobile/MobileShell.vue'),
      children: [
        { path: '', redirect: '/m/tasks' },
        { path: 'tasks', name: 'm-tasks', component: () => import('./views/mobile/MyTasksView.vue'), meta: { title: '我的任务' } },
        {
          path: 'rounds/:id(\\d+)',
          name: 'm-round',
          component: () => import('./views/mobile/RoundView.vue'),
          meta: { title: '巡检', mobileBack: true },
        },
        { path: 'alarms', name: 'm-alarms', component: () => import('./views/mobile/MobileAlarmsView.vue'), meta: { title: '报警确认' } },
        { path: 'permits', name: 'm-permits', component: () => import('./views/mobile/MobilePermitsView.vue'), meta: { title: '作业票' } },
        {
          path: 'permits/:id(\\d+)',
          name: 'm-permit',
          component: () => import('./views/mobile/MobilePermitView.vue'),
          meta: { title: '作业票详情', mobileBack: true },
        },
      ],
    },
    { path: '/:pathMatch(.*)*', redirect: '/' },
  ],
})

router.beforeEach((to) => {
  if (!to.meta.public && !getToken()) return { name: 'login', query: to.fullPath !== '/' ? { next: to.fullPath } : {} }
  // The security administrator and the auditor hold no plant rights (least privilege): their home is the user list.
  if (!to.meta.public && to.name !== 'users' && onlySeparatedRoles()) return { name: 'users' }
  return true
})

/** Roles that may open the user list (GET /api/v1/users). */
export function canManageUsers(): boolean {
  return (getUser()?.roles ?? []).some((r) => r === 'security_admin' || r === 'auditor')
}

function onlySeparatedRoles(): boolean {
  const roles = getUser()?.roles ?? []
  return roles.length > 0 && roles.every((r) => r === 'security_admin' || r === 'auditor')
}

router.afterEach((to) => {
  const title = routeTitle(to)
  document.title = title ? `${title} · SafeTwin 安全风险智能化管控平台` : 'SafeTwin 安全风险智能化管控平台'
})

setUnauthorizedHandler(() => {
  if (router.currentRoute.value.name !== 'login') void router.push({ name: 'login' })
})
