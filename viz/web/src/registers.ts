/**
 * The management registers (台账) the generic list page shows, one small declaration each.
 *
 * Every register endpoint shares one shape (registers/framework on the Python side), so a
 * register here is only its URL prefix, its title, and which columns to show. The Chinese
 * labels of record fields come from the API (`GET {prefix}/form-schema`, the register's own
 * declaration, the same words as the import template and the export): the page uses them for
 * the column headers, the detail drawer, the change history and the create / edit form. The
 * labels written here are only what the page shows before that answer arrives (or if a role
 * may not read the form).
 */

export type TagType = 'primary' | 'success' | 'warning' | 'danger' | 'info'

/** How a cell's raw value becomes text (all optional: plain values need none). */
export type CellKind =
  | 'text'
  | 'area' // plant area id -> its name from /api/v1/plant
  | 'grade' // 1..4 -> 一级..四级
  | 'ref' // id of a record in another register -> its `ref.label` field

export interface Column {
  prop: string
  label: string
  /** Listed in the API's sortable fields: clicking the header sorts on the server. */
  sortable?: boolean
  width?: number
  minWidth?: number
  kind?: CellKind
  /** Value -> label for codes the API keeps in English (e.g. unit_kind). */
  map?: Record<string, string>
  /** Render as a coloured tag: value (as a string) -> tag type. */
  tags?: Record<string, TagType>
  ref?: { prefix: string; label: string }
}

export interface RegisterConfig {
  /** Route parameter: /#/registers/<key>. */
  key: string
  title: string
  prefix: string
  columns: Column[]
  /** Chinese labels for the other fields, shown in the detail drawer and the change history. */
  labels: Record<string, string>
  /** The field that names a record in confirmations (删除「…」). */
  nameField: string
  searchPlaceholder: string
  defaultSort?: string
}

/** Bookkeeping fields every register record carries (registers/framework RegisterMixin). */
export const COMMON_LABELS: Record<string, string> = {
  id: '记录ID',
  version: '版本',
  created_at: '创建时间',
  created_by: '创建人',
  updated_at: '更新时间',
  updated_by: '更新人',
  deleted_at: '删除时间',
  deleted_by: '删除人',
}

export const HISTORY_ACTION_LABEL: Record<string, string> = {
  create: '新建',
  update: '修改',
  delete: '删除',
  restore: '恢复',
  import: '导入',
  approve: '审核',
}

const UNIT_KIND: Record<string, string> = { storage: '储存单元', production: '生产单元' }
const GRADE_TAGS: Record<string, TagType> = { '1': 'danger', '2': 'warning', '3': 'primary', '4': 'info' }

export const REGISTERS: RegisterConfig[] = [
  {
    key: 'certificates',
    title: '证照与报告',
    prefix: '/api/v1/certificates',
    nameField: 'name',
    searchPlaceholder: '证照编号、名称、持证单位…',
    defaultSort: 'expiry_date',
    columns: [
      { prop: 'kind', label: '证照类型', sortable: true, minWidth: 150 },
      { prop: 'number', label: '证照编号', sortable: true, minWidth: 150 },
      { prop: 'name', label: '证照/报告名称', minWidth: 180 },
      { prop: 'holder', label: '持证单位', sortable: true, minWidth: 150 },
      { prop: 'issue_date', label: '发证日期', sortable: true, width: 120 },
      { prop: 'expiry_date', label: '有效期至', sortable: true, width: 120 },
      { prop: 'expiry_label', label: '到期状态', width: 100, tags: { 已过期: 'danger', 即将到期: 'warning', 有效: 'success' } },
      {
        prop: 'status',
        label: '状态',
        sortable: true,
        width: 90,
        tags: { 有效: 'success', 换证中: 'warning', 暂扣: 'danger', 注销: 'info' },
      },
    ],
    labels: {
      issuer: '发证机关 / 编制机构',
      scope: '许可范围 / 登记品种 / 评价范围',
      grade: '等级',
      project: '建设项目',
      stage: '阶段',
      responsible_person: '负责人',
      remarks: '备注',
    },
  },
  {
    key: 'hazard-sources',
    title: '重大危险源',
    prefix: '/api/v1/hazard-sources',
    nameField: 'name',
    searchPlaceholder: '编号、名称、区域、包保责任人…',
    defaultSort: 'code',
    columns: [
      { prop: 'code', label: '编号', sortable: true, width: 100 },
      { prop: 'name', label: '名称', sortable: true, minWidth: 160 },
      { prop: 'area', label: '所在区域', kind: 'area', minWidth: 120 },
      { prop: 'unit_kind', label: '单元类型', map: UNIT_KIND, width: 100 },
      { prop: 'grade', label: '级别', sortable: true, kind: 'grade', tags: GRADE_TAGS, width: 90 },
      { prop: 'r_value', label: 'R值', sortable: true, width: 90 },
      { prop: 'principal_person', label: '主要负责人', width: 110 },
      { prop: 'record_number', label: '备案编号', minWidth: 170 },
      { prop: 'next_assessment_due', label: '下次安全评估', sortable: true, width: 142 },
    ],
    labels: {
      process: '涉及的危险工艺',
      chemicals: '危险化学品及数量',
      exposed_population: '500m内暴露人数',
      alpha: '校正系数 α',
      s_value: 'S值',
      is_major: '构成重大危险源',
      grade_label: '级别（文字）',
      explanation: '辨识过程（GB 18218）',
      technical_person: '技术负责人',
      operational_person: '操作负责人',
    },
  },
  {
    key: 'chemicals',
    title: '危险化学品',
    prefix: '/api/v1/chemicals',
    nameField: 'name',
    searchPlaceholder: '名称、CAS号、UN号、危险性类别…',
    defaultSort: 'name',
    columns: [
      { prop: 'name', label: '化学品名称', sortable: true, minWidth: 120 },
      { prop: 'cas', label: 'CAS号', sortable: true, width: 120 },
      { prop: 'un_number', label: 'UN号', width: 90 },
      { prop: 'hazard_classes', label: '危险性类别', minWidth: 260 },
      { prop: 'physical_state', label: '物态', width: 100 },
      { prop: 'is_highly_toxic', label: '剧毒', width: 70, tags: { true: 'danger', false: 'info' } },
      { prop: 'flash_point_c', label: '闪点 ℃', sortable: true, width: 100 },
    ],
    labels: {
      gb18218_categories: 'GB 18218 类别',
      mac_mg_m3: 'MAC (mg/m³)',
      pc_twa_mg_m3: 'PC-TWA (mg/m³)',
      pc_stel_mg_m3: 'PC-STEL (mg/m³)',
      lel_pct: '爆炸下限 %',
      uel_pct: '爆炸上限 %',
      emergency_measures: '应急处置措施',
    },
  },
  {
    key: 'hazardous-processes',
    title: '危险工艺',
    prefix: '/api/v1/hazardous-processes',
    nameField: 'name',
    searchPlaceholder: '工艺名称、反应类型、设备…',
    defaultSort: 'name',
    columns: [
      { prop: 'name', label: '工艺名称', sortable: true, minWidth: 120 },
      { prop: 'reaction_type', label: '反应类型', minWidth: 150 },
      { prop: 'hazard_source_code', label: '所属重大危险源', sortable: true, width: 140 },
      { prop: 'equipment', label: '关键设备', sortable: true, width: 100 },
      { prop: 'control_mode', label: '控制方式', minWidth: 260 },
    ],
    labels: { key_parameters: '重点监控工艺参数', safety_controls: '安全控制措施' },
  },
  {
    key: 'equipment',
    title: '设备设施',
    prefix: '/api/v1/equipment',
    nameField: 'name',
    searchPlaceholder: '设备编码、名称、登记证号、责任人…',
    defaultSort: 'code',
    columns: [
      { prop: 'code', label: '设备编码', sortable: true, minWidth: 200 },
      { prop: 'name', label: '名称', sortable: true, minWidth: 140 },
      { prop: 'category', label: '设备类别', width: 100 },
      { prop: 'special_kind', label: '特种设备', width: 100 },
      {
        prop: 'status',
        label: '状态',
        sortable: true,
        width: 80,
        tags: { 在用: 'success', 备用: 'primary', 停用: 'warning', 报废: 'info' },
      },
      { prop: 'hazard_source_code', label: '重大危险源', width: 110 },
      { prop: 'next_inspection_due', label: '下次检验', sortable: true, width: 120 },
    ],
    labels: {
      level: '层级',
      parent_code: '上级编码',
      plant_id: '数字孪生编号',
      registration_no: '使用登记证编号',
      manufacturer: '制造单位',
      model_no: '规格型号',
      serial_no: '出厂编号',
      commissioned_on: '投用日期',
      responsible_person: '责任人',
      medium: '介质',
      design_pressure_mpa: '设计/整定/爆破压力 MPa',
      interval_days: '校验/更换周期 (天)',
      next_calibration_due: '下次校验日期',
      next_replacement_due: '下次更换日期',
      remarks: '备注',
    },
  },
  {
    key: 'people',
    title: '人员',
    prefix: '/api/v1/people',
    nameField: 'name',
    searchPlaceholder: '工号、姓名、单位、岗位、特种作业…',
    defaultSort: 'code',
    columns: [
      { prop: 'code', label: '工号', sortable: true, width: 90 },
      { prop: 'name', label: '姓名', sortable: true, width: 90 },
      { prop: 'category', label: '人员类别', sortable: true, width: 110 },
      { prop: 'employer', label: '所属单位', minWidth: 160 },
      { prop: 'department', label: '部门 / 车间', sortable: true, width: 120 },
      { prop: 'position', label: '岗位', minWidth: 110 },
      { prop: 'education', label: '学历', width: 100 },
      { prop: 'special_operation', label: '特种作业', minWidth: 130 },
      { prop: 'status', label: '状态', width: 80, tags: { 在岗: 'success', 离岗: 'info' } },
    ],
    labels: {
      contractor_id: '承包商',
      phone: '电话',
      full_time_safety: '专职安全生产管理人员',
      principal: '主要负责人',
      hired_on: '入职 / 入场日期',
      visit_until: '准入截止',
      remarks: '备注',
    },
  },
  {
    key: 'training',
    title: '培训',
    prefix: '/api/v1/training/records',
    nameField: 'title',
    searchPlaceholder: '培训名称、备注…',
    defaultSort: '-trained_on',
    columns: [
      { prop: 'person_id', label: '人员', kind: 'ref', ref: { prefix: '/api/v1/people', label: 'name' }, width: 90 },
      { prop: 'title', label: '培训名称', minWidth: 180 },
      { prop: 'training_type', label: '培训类型', sortable: true, width: 110 },
      { prop: 'trained_on', label: '培训日期', sortable: true, width: 120 },
      { prop: 'hours', label: '学时', sortable: true, width: 80 },
      { prop: 'score', label: '成绩', sortable: true, width: 80 },
      { prop: 'passed', label: '合格', width: 80, tags: { true: 'success', false: 'danger' } },
    ],
    labels: {
      session_id: '培训班次ID',
      level: '级别',
      renews_certificate_id: '换证证书ID',
      new_expiry_date: '新有效期至',
      remarks: '备注',
    },
  },
  {
    key: 'contractors',
    title: '承包商',
    prefix: '/api/v1/contractors',
    nameField: 'name',
    searchPlaceholder: '信用代码、单位名称、联系人、承包范围…',
    defaultSort: 'name',
    columns: [
      { prop: 'name', label: '单位名称', sortable: true, minWidth: 180 },
      { prop: 'credit_code', label: '统一社会信用代码', sortable: true, minWidth: 190 },
      { prop: 'contact_person', label: '联系人', width: 90 },
      { prop: 'phone', label: '联系电话', width: 130 },
      { prop: 'qualification_level', label: '资质等级', minWidth: 180 },
      { prop: 'admission_valid_until', label: '准入有效期至', sortable: true, width: 130 },
      {
        prop: 'status',
        label: '状态',
        sortable: true,
        width: 90,
        tags: { 申请中: 'info', 已准入: 'primary', 已入场: 'success', 已退场: 'info', 未通过: 'warning', 黑名单: 'danger' },
      },
    ],
    labels: {
      legal_representative: '法定代表人',
      scope: '承包范围',
      remarks: '备注',
      blacklist_reason: '列入黑名单原因',
      blacklisted_at: '列入黑名单时间',
      last_score: '最近评价得分',
      last_grade: '最近评价等级',
    },
  },
]

export function registerByKey(key: string): RegisterConfig | undefined {
  return REGISTERS.find((r) => r.key === key)
}

/** Every label a register knows: columns, extra labels, then the bookkeeping fields. */
export function fieldLabels(cfg: RegisterConfig): Record<string, string> {
  const out: Record<string, string> = { ...COMMON_LABELS, ...cfg.labels }
  for (const c of cfg.columns) out[c.prop] = c.label
  return out
}
