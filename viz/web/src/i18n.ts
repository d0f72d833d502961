import { computed } from 'vue'
import { createI18n } from 'vue-i18n'

/**
 * The UI's two languages: zh-CN by default (the plant's people read Chinese), English on
 * request. The choice is kept in localStorage so it survives a reload and the next login.
 * Pages not yet translated keep their Chinese text in English mode.
 */
export type Locale = 'zh-CN' | 'en'

const LOCALE_KEY = 'safetwin.locale'

function storedLocale(): Locale {
  try {
    return localStorage.getItem(LOCALE_KEY) === 'en' ? 'en' : 'zh-CN'
  } catch {
    return 'zh-CN'
  }
}

const zh = {
  app: { title: '安全风险智能化管控平台', logout: '退出', expand: '展开菜单', collapse: '收起菜单', collapseShort: '« 收起', language: '语言' },
  route: {
    login: '登录',
    twin: '数字孪生',
    overview: '总览',
    trends: '趋势对比',
    alarms: '报警管理',
    users: '用户与角色',
    registers: '台账管理',
    mobile: '移动端',
  },
  twin: {
    scene: '场景：',
    sceneStatus: { loading: '加载中…', loaded: '已加载', error: '加载失败' },
    renderScale: '渲染分辨率 {p}%',
    renderScaleHint: '帧率不足时自动降低渲染分辨率，帧率恢复后自动提高',
    live: { open: '实时连接正常', connecting: '正在连接…', closed: '连接断开，重连中' },
    legend: { normal: '正常', alarm: '报警', people: '人员 {n}', permits: '作业票 {n}', cameras: '摄像机 {n}' },
    risk: { red: '重大风险', orange: '较大风险', yellow: '一般风险', blue: '低风险', none: '未评估' },
    kind: {
      sphere: '球罐',
      tank: '储罐',
      vessel: '卧式储罐',
      reactor: '反应釜',
      pump: '泵',
      exchanger: '换热器',
      building: '建筑',
      column: '塔器',
    },
    level: { HH: '高高报', H: '高报', L: '低报', LL: '低低报', normal: '正常', bad: '质量异常', none: '无数据' },
    alarmKind: { HH: '高高报', H: '高报', L: '低报', LL: '低低报', ROC: '变化率', BAD: '坏质量', STALE: '数据中断' },
    preset: { label: '视角预设', placeholder: '视角：全厂', all: '全厂', home: '全厂视角' },
    close: '关闭',
    alarmBadge: '报警',
    hazardSource: '重大危险源 {id}',
    riskLine: '风险：',
    points: '（{n} 分）',
    activeAlarms: '活动报警 {n}',
    areaPermits: '本区作业票 {n}',
    showAllTags: '显示全部位号',
    recent: '近 {n} 分钟',
    person: '人员 {id}',
    badge: '定位卡 {id}',
    updated: '更新 {t}',
    position: '位置 ({x}, {y}) m',
    accuracy: '精度 {a} m',
    inZones: '所在区域 {z}',
    department: '部门 {d}',
    place: '地点 {p}',
    validUntil: '有效期至 {t}',
    contractor: '承包商 {c}',
    camera: {
      title: '摄像机',
      zone: '监控区域 {z}',
      post: '岗位 {p}',
      latest: '最新事件',
      none: '近 24 小时无事件',
      confidence: '置信度 {c}',
      snapshot: '截图 {s}',
    },
    alarmsPanel: '报警',
    activeCount: '活动报警',
    noAlarms: '暂无活动报警',
    liveData: '实时数据',
    all: '全部',
    col: { time: '时间', tag: '位号', equipment: '设备', alarm: '报警', valueLimit: '数值 / 限值', name: '名称', value: '当前值', unit: '单位', state: '状态' },
    tagLimit: '共 {total} 个位号，显示报警位号及前 {n} 个；点击三维场景中的设备查看其位号。',
    updatedAt: '更新时间 {t}',
    hint: '点击位号查看趋势曲线；点击三维场景中的设备筛选其位号。',
    replay: {
      open: '回放',
      window: '回放时长',
      windows: { m10: '近 10 分钟', m30: '近 30 分钟', h1: '近 1 小时', h6: '近 6 小时' },
      slider: '回放时刻',
      play: '播放',
      pause: '暂停',
      live: '返回实时',
      badge: '回放中',
      alarmsAt: '该时刻报警 {n}',
      peopleAt: '该时刻人员 {n}',
      sourceAlarmsAt: '人员、摄像机等报警 {n}',
      loading: '正在读取历史…',
      failed: '读取历史失败：{e}',
    },
  },
}

type Messages = typeof zh

const en: Messages = {
  app: { title: 'Safety Risk Control Platform', logout: 'Log out', expand: 'Expand menu', collapse: 'Collapse menu', collapseShort: '« Collapse', language: 'Language' },
  route: {
    login: 'Log in',
    twin: 'Digital twin',
    overview: 'Overview',
    trends: 'Trends',
    alarms: 'Alarms',
    users: 'Users and roles',
    registers: 'Registers',
    mobile: 'Mobile',
  },
  twin: {
    scene: 'Scene: ',
    sceneStatus: { loading: 'Loading…', loaded: 'Loaded', error: 'Failed to load' },
    renderScale: 'Render scale {p}%',
    renderScaleHint: 'Resolution drops automatically when frames are slow and comes back when they are fast again',
    live: { open: 'Live', connecting: 'Connecting…', closed: 'Disconnected, reconnecting' },
    legend: { normal: 'Normal', alarm: 'Alarm', people: 'People {n}', permits: 'Permits {n}', cameras: 'Cameras {n}' },
    risk: { red: 'Major risk', orange: 'High risk', yellow: 'Moderate risk', blue: 'Low risk', none: 'Not scored' },
    kind: {
      sphere: 'Sphere',
      tank: 'Tank',
      vessel: 'Horizontal vessel',
      reactor: 'Reactor',
      pump: 'Pump',
      exchanger: 'Heat exchanger',
      building: 'Building',
      column: 'Column',
    },
    level: { HH: 'High-high', H: 'High', L: 'Low', LL: 'Low-low', normal: 'Normal', bad: 'Bad quality', none: 'No data' },
    alarmKind: { HH: 'High-high', H: 'High', L: 'Low', LL: 'Low-low', ROC: 'Rate of change', BAD: 'Bad quality', STALE: 'Stale data' },
    preset: { label: 'Camera preset', placeholder: 'View: whole plant', all: 'Whole plant', home: 'Whole plant' },
    close: 'Close',
    alarmBadge: 'Alarm',
    hazardSource: 'major hazard source {id}',
    riskLine: 'Risk: ',
    points: ' ({n} pts)',
    activeAlarms: 'Active alarms {n}',
    areaPermits: 'Permits in this area {n}',
    showAllTags: 'Show all tags',
    recent: 'last {n} min',
    person: 'Person {id}',
    badge: 'Badge {id}',
    updated: 'updated {t}',
    position: 'Position ({x}, {y}) m',
    accuracy: 'accuracy {a} m',
    inZones: 'Zones {z}',
    department: 'Department {d}',
    place: 'Location {p}',
    validUntil: 'Valid until {t}',
    contractor: 'Contractor {c}',
    camera: {
      title: 'Camera',
      zone: 'Watches {z}',
      post: 'Post {p}',
      latest: 'Latest event',
      none: 'No event in the last 24 h',
      confidence: 'confidence {c}',
      snapshot: 'snapshot {s}',
    },
    alarmsPanel: 'Alarms',
    activeCount: 'Active',
    noAlarms: 'No active alarms',
    liveData: 'Live data',
    all: 'All',
    col: { time: 'Time', tag: 'Tag', equipment: 'Equipment', alarm: 'Alarm', valueLimit: 'Value / limit', name: 'Name', value: 'Value', unit: 'Unit', state: 'State' },
    tagLimit: '{total} tags: alarmed tags and the first {n} are shown; click equipment in the 3D scene to see its tags.',
    updatedAt: 'Updated {t}',
    hint: 'Click a tag for its trend; click equipment in the 3D scene to filter its tags.',
    replay: {
      open: 'Replay',
      window: 'Replay window',
      windows: { m10: 'Last 10 min', m30: 'Last 30 min', h1: 'Last hour', h6: 'Last 6 hours' },
      slider: 'Replay time',
      play: 'Play',
      pause: 'Pause',
      live: 'Back to live',
      badge: 'Replay',
      alarmsAt: 'Alarms at this time {n}',
      peopleAt: 'People at this time {n}',
      sourceAlarmsAt: 'People, camera and other alarms {n}',
      loading: 'Reading history…',
      failed: 'Reading history failed: {e}',
    },
  },
}

export const i18n = createI18n({
  legacy: false,
  locale: storedLocale(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zh, en },
})

document.documentElement.lang = i18n.global.locale.value

/** The current UI language (reactive). */
export const locale = computed<Locale>(() => (i18n.global.locale.value === 'en' ? 'en' : 'zh-CN'))

/** Switch the UI language and remember the choice. */
export function setLocale(next: Locale): void {
  i18n.global.locale.value = next
  document.documentElement.lang = next
  try {
    localStorage.setItem(LOCALE_KEY, next)
  } catch {
    // private mode: the switch still applies to this page
  }
}
