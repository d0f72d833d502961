import { createRouter, createWebHashHistory } from 'vue-router'
import { getToken, setUnauthorizedHandler } from './api'
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
        {
          path: 'registers/:key',
          name: 'register',
          component: () => import('./views/RegisterView.vue'),
          meta: { title: '台账管理' },
          beforeEnter: (to) => (registerByKey(String(to.params.key)) ? true : { name: 'twin' }),
        },
      ],
    },
    { path: '/:pathMatch(.*)*', redirect: '/' },
  ],
})

router.beforeEach((to) => {
  if (!to.meta.public && !getToken()) return { name: 'login', query: to.fullPath !== '/' ? { next: to.fullPath } : {} }
  return true
})

router.afterEach((to) => {
  const title = routeTitle(to)
  document.title = title ? `${title} · SafeTwin 安全风险智能化管控平台` : 'SafeTwin 安全风险智能化管控平台'
})

setUnauthorizedHandler(() => {
  if (router.currentRoute.value.name !== 'login') void router.push({ name: 'login' })
})
