import * as THREE from 'three'
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js'
import { OrbitControls } from 'three/addons/controls/OrbitControls.js'
import { CSS2DObject, CSS2DRenderer } from 'three/addons/renderers/CSS2DRenderer.js'
import { mergeGeometries } from 'three/addons/utils/BufferGeometryUtils.js'

/** Colour of equipment with an active alarm. */
export const ALARM_COLOR = '#ff3030'

/** Risk colours of the four levels (重大 red, 较大 orange, 一般 yellow, 低 blue) and "not scored yet". */
export const RISK_COLORS: Record<string, string> = {
  red: '#e0262b',
  orange: '#f5871f',
  yellow: '#f2c80f',
  blue: '#2f6fd6',
  none: '#8c98a4',
}

/** Colours of a permit icon by ticket status. */
const PERMIT_STATUS_COLOR: Record<string, string> = {
  working: '#2f9e57',
  作业中: '#2f9e57',
  已批准: '#2f6fd6',
  suspended: '#f5871f',
  已中断: '#f5871f',
}

/** One Chinese character per special-work type for the permit icon. */
const PERMIT_GLYPH: Array<[RegExp, string]> = [
  [/hot|动火/i, '火'],
  [/confined|受限/i, '限'],
  [/blind|盲板/i, '盲'],
  [/height|高处/i, '高'],
  [/lift|吊装/i, '吊'],
  [/power|electric|临时用电/i, '电'],
  [/excavat|动土/i, '土'],
  [/road|断路/i, '路'],
]

export interface EquipmentExtras {
  role: 'equipment'
  asset_id: string
  kind: string
  name: string
  area: string
  hazard_source: string | null
  tags: string[]
  color?: string
}

/** What the pointer is on. */
export type Pick =
  | { kind: 'equipment'; id: string }
  | { kind: 'person'; id: string }
  | { kind: 'permit'; id: string }
  | { kind: 'hazard'; id: string }
  | { kind: 'camera'; id: string }

export interface PersonMarker {
  person_id: string
  tag_id: string
  x: number
  y: number
  z?: number
  zone_ids?: string[]
  /** Name from the people register (工号 = person id); the marker's label shows it. */
  name?: string | null
}

export interface CameraInfo {
  id: string
  name: string
  zone: string | null
  position: THREE.Vector3
}

// a standing figure about 1.8 m tall, drawn 1.6x so a person is visible from the control-room view
const PERSON_FINE = new THREE.CapsuleGeometry(0.45, 1.1, 4, 10).translate(0, 1.0, 0).scale(1.6, 1.6, 1.6)
const PERSON_COARSE = new THREE.CapsuleGeometry(0.45, 1.1, 1, 5).translate(0, 1.0, 0).scale(1.6, 1.6, 1.6)
// from the overview a person is a few pixels tall: a standing diamond of the same height (8 triangles, not 30)
const PERSON_FAR = new THREE.OctahedronGeometry(0.5).scale(1, 1.8, 1).translate(0, 0.9, 0).scale(1.6, 1.6, 1.6)
/** Height of a person marker as drawn (m). */
const PERSON_HEIGHT = 1.8 * 1.6

/** Colour of a person marker (alarmed people are ALARM_COLOR). */
const PERSON_COLOR = new THREE.Color('#ff7a00')

/** Colour of a camera icon: idle, and with an event in the last minutes. */
export const CAMERA_COLORS = { idle: '#4c5566', event: '#f5871f' } as const

export interface PermitMarker {
  id: string
  work_type: string
  status: string
  x: number
  y: number
  label: string
}

export interface AreaPreset {
  id: string
  name: string
  box: THREE.Box3
}

export interface ViewerOptions {
  /** Called when the user clicks an object (null: clicked empty space). */
  onSelect?: (pick: Pick | null) => void
  /** Called when the pointer moves onto / off an object, with the pointer position in the host. */
  onHover?: (pick: Pick | null, x: number, y: number) => void
}

/** Levels of detail of a shape: the full mesh, the coarse mesh from the GLB, a bounding-box stand-in. */
const FINE = 0
const COARSE = 1
const STANDIN = 2

/**
 * Every item of one shape at three levels of detail: the full mesh for the near ones and the
 * GLB's coarse mesh further out (an instanced mesh each), and a box of the shape's bounds (ten
 * triangles) where an item is only a few pixels wide. Software WebGL pays for every triangle
 * on the CPU -- from the overview a 1,500-triangle sphere is a dot -- and SwiftShader draws
 * each instance of an instanced mesh as a draw of its own, so the stand-ins of every shape are
 * one merged mesh (StandinLayer): 2,000 far items are one draw of about 12,000 triangles.
 */
interface Batch {
  /** Instanced meshes of the FINE and COARSE levels; null where the shape has no coarse mesh. */
  levels: Array<THREE.InstancedMesh | null>
  /** The stand-in's geometry in the shape's frame; null: no stand-in level (buildings are boxes already). */
  standin: THREE.BufferGeometry | null
  /** Index of the batch's first item in the stand-in layer. */
  base: number
  /** Equipment ids (empty strings for scenery such as pipe racks). */
  ids: string[]
  /** Equipment batches answer picks; scenery does not. */
  pickable: boolean
  matrices: THREE.Matrix4[]
  centres: THREE.Vector3[]
  /** Instance colours; equipment shares its node's colour object, so an alarm recolours in place. */
  colors: THREE.Color[]
  /** Size of the shape's detail (m): under STANDIN_PIXELS on screen, the stand-in is drawn. */
  size: number
  /** Item index of each instance, per level. */
  slots: number[][]
}

/** Many copies of a small fixture (locator anchors, camera housings): drawn only where they are big enough to see. */
interface SmallBatch {
  mesh: THREE.InstancedMesh
  matrices: THREE.Matrix4[]
  centres: THREE.Vector3[]
  /** Largest extent of one copy (m). */
  size: number
}

interface EquipmentNode {
  extras: EquipmentExtras
  batch: Batch
  index: number
  color: THREE.Color
  normalColor: THREE.Color
  centre: THREE.Vector3
  top: number
  footprint: THREE.Box3
  alarm: boolean
}

/** A piece of flat scenery (area slab, zone fill) in plant coordinates, with its GLB material. */
interface FlatPiece {
  box: THREE.Box3
  material: THREE.Material
  geometry: THREE.BufferGeometry
}

interface StaticLabel {
  text: string
  kind: 'area' | 'zone'
  position: THREE.Vector3
}

/** Width of a zone outline kerb in the GLB (twin/scene.py _OUTLINE), and the height its lines are drawn at. */
const OUTLINE_KERB_WIDTH = 0.35
const OUTLINE_LINE_Y = 0.2
/** Stand-in faces turned away from the camera by up to this cosine are still drawn (see StandinLayer.flush). */
const BACKFACE_MARGIN = 0.25
/** Items narrower than this many CSS pixels are drawn as their bounding-box stand-in. */
const STANDIN_PIXELS = 12
/** Camera icons smaller than this many CSS pixels are not drawn (unless the camera has an event). */
const ICON_MIN_PIXELS = 6
const MAX_EQUIPMENT_LABELS = 40
const MAX_PEOPLE_LABELS = 25
const MAX_STATIC_LABELS = 30
const LABEL_REFRESH_MS = 200
const HOVER_THROTTLE_MS = 60
/** Small fixtures narrower than this many CSS pixels on screen are not drawn (small-feature culling). */
const SMALL_MIN_PIXELS = 2
const PEOPLE_EASE_MS = 1000
// dynamic resolution: aim at 30 fps, shrink below 28, grow back above 50, never under half size
const DRS_TARGET_FPS = 30
const DRS_LOW_FPS = 28
const DRS_HIGH_FPS = 50
const DRS_MIN_SCALE = 0.5
const DRS_WINDOW_MS = 500

/** Where a frame's time goes; the page shows the scale and the benchmark records all of it. */
export interface FrameStats {
  fps: number
  frameMs: number
  /** JS before drawing: people, labels choice, controls. */
  updateMs: number
  /** renderer.render: JS side of the draw (WebGL commands are executed later, off the main thread). */
  renderMs: number
  /** CSS label placement. */
  labelsMs: number
  /** Hover picking (a ray against the instances), per pointer move. */
  pickMs: number
  /** Pixels drawn per CSS pixel each way (dynamic resolution). */
  scale: number
  /** Drawing-buffer size in pixels. */
  buffer: [number, number]
  calls: number
  triangles: number
  antialias: boolean
}

function hex(color: THREE.Color): string {
  return `#${color.getHexString()}`
}

/**
 * ``cheap`` (a material of a cheaper shading model, its colour set) with what else it must keep
 * of the GLB material it stands in for: transparency, opacity, side, depth writes and name.
 */
function cheapCopy<T extends THREE.Material>(source: THREE.MeshStandardMaterial, cheap: T): T {
  cheap.transparent = source.transparent
  cheap.opacity = source.opacity
  cheap.side = source.side
  cheap.depthWrite = source.depthWrite
  cheap.name = source.name
  return cheap
}

function isEquipment(data: unknown): data is EquipmentExtras {
  return typeof data === 'object' && data !== null && (data as { asset_id?: unknown }).asset_id !== undefined
}

/** True when WebGL is drawn in software (SwiftShader, llvmpipe): every pixel costs CPU. */
function softwareRenderer(): boolean {
  try {
    const gl = document.createElement('canvas').getContext('webgl2')
    if (!gl) return false
    const info = gl.getExtension('WEBGL_debug_renderer_info')
    const name = info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : String(gl.getParameter(gl.RENDERER))
    gl.getExtension('WEBGL_lose_context')?.loseContext()
    return /swiftshader|llvmpipe|software|softpipe/i.test(name)
  } catch {
    return false
  }
}

/**
 * A box filling `box` without its bottom face (the camera never looks from below the
 * ground): ten triangles standing in for a shape that is a few pixels wide.
 */
function standinGeometry(box: THREE.Box3): THREE.BufferGeometry {
  const size = box.getSize(new THREE.Vector3())
  const centre = box.getCenter(new THREE.Vector3())
  const geometry = new THREE.BoxGeometry(size.x, size.y, size.z).translate(centre.x, centre.y, centre.z)
  const index = geometry.getIndex()
  const bottom = geometry.groups[3] // BoxGeometry's faces: +x, -x, +y, -y, +z, -z
  if (index && bottom) {
    const kept = Array.from(index.array).filter((_, i) => i < bottom.start || i >= bottom.start + bottom.count)
    geometry.setIndex(kept)
    geometry.clearGroups()
  }
  geometry.deleteAttribute('uv')
  return geometry
}

/** The outer edges of a flat triangulated polygon (edges used by one triangle only), as point pairs. */
function boundaryEdges(geometry: THREE.BufferGeometry): Array<[THREE.Vector3, THREE.Vector3]> {
  const pos = geometry.attributes.position as THREE.BufferAttribute
  const index = geometry.index ? Array.from(geometry.index.array) : Array.from({ length: pos.count }, (_, i) => i)
  const key = (i: number): string => `${pos.getX(i).toFixed(3)},${pos.getZ(i).toFixed(3)}`
  const count = new Map<string, [number, number, number]>()
  for (let t = 0; t + 2 < index.length; t += 3) {
    for (const [a, b] of [
      [index[t], index[t + 1]],
      [index[t + 1], index[t + 2]],
      [index[t + 2], index[t]],
    ]) {
      const ka = key(a)
      const kb = key(b)
      const k = ka < kb ? `${ka}|${kb}` : `${kb}|${ka}`
      const seen = count.get(k)
      count.set(k, seen ? [seen[0] + 1, a, b] : [1, a, b])
    }
  }
  const out: Array<[THREE.Vector3, THREE.Vector3]> = []
  for (const [n, a, b] of count.values()) {
    if (n === 1) out.push([new THREE.Vector3().fromBufferAttribute(pos, a), new THREE.Vector3().fromBufferAttribute(pos, b)])
  }
  return out
}

/**
 * The stand-ins of every batch in one mesh: positions and normals written once in plant
 * coordinates, the index rebuilt for the items on the STANDIN level when the layout changes,
 * colours rewritten with it (alarm colour included). One draw call however many items.
 */
class StandinLayer {
  readonly mesh: THREE.Mesh
  private readonly firstVertex: Uint32Array
  private dirty = true

  /** Light per vertex (linear RGB) multiplied into the colours; all ones when the material is lit. */
  private readonly light: Float32Array

  constructor(
    private readonly batches: Batch[],
    material: THREE.Material,
    lightOn: ((normal: THREE.Vector3, out: THREE.Color) => THREE.Color) | null,
  ) {
    let items = 0
    let vertices = 0
    let indices = 0
    for (const b of batches) {
      if (!b.standin) continue
      b.base = items
      items += b.ids.length
      vertices += b.ids.length * b.standin.attributes.position.count
      indices += b.ids.length * (b.standin.index?.count ?? 0)
    }
    this.firstVertex = new Uint32Array(items)
    this.light = new Float32Array(vertices * 3).fill(1)
    const lit = new THREE.Color()
    const positions = new Float32Array(vertices * 3)
    const normals = new Float32Array(vertices * 3)
    const normalMatrix = new THREE.Matrix3()
    const v3 = new THREE.Vector3()
    let v = 0
    for (const b of batches) {
      if (!b.standin) continue
      const pos = b.standin.attributes.position as THREE.BufferAttribute
      const nor = b.standin.attributes.normal as THREE.BufferAttribute
      b.ids.forEach((_, i) => {
        this.firstVertex[b.base + i] = v
        const m = b.matrices[i]
        normalMatrix.getNormalMatrix(m)
        for (let j = 0; j < pos.count; j++, v++) {
          v3.fromBufferAttribute(pos, j).applyMatrix4(m).toArray(positions, v * 3)
          v3.fromBufferAttribute(nor, j).applyMatrix3(normalMatrix).normalize().toArray(normals, v * 3)
          if (lightOn) lightOn(v3, lit).toArray(this.light, v * 3)
        }
      })
    }
    const geometry = new THREE.BufferGeometry()
    geometry.setAttribute('position', new THREE.BufferAttribute(positions, 3))
    geometry.setAttribute('normal', new THREE.BufferAttribute(normals, 3))
    geometry.setAttribute('color', new THREE.BufferAttribute(new Float32Array(vertices * 3), 3).setUsage(THREE.DynamicDrawUsage))
    geometry.setIndex(new THREE.BufferAttribute(new Uint32Array(Math.max(3, indices)), 1).setUsage(THREE.DynamicDrawUsage))
    geometry.setDrawRange(0, 0)
    geometry.computeBoundingSphere()
    this.mesh = new THREE.Mesh(geometry, material)
    this.mesh.name = 'standins'
    this.mesh.frustumCulled = false
  }

  /** The STANDIN slots or colours of a batch changed: rebuild before the next frame. */
  invalidate(): void {
    this.dirty = true
  }

  /**
   * Rebuild the index (and colours) of the drawn stand-ins, once per change. Faces turned
   * away from the camera are left out here rather than by the rasteriser (a box shows at most
   * three of its five faces): the layout is redone as the camera moves, and faces up to
   * BACKFACE_MARGIN past edge-on stay in so a turning camera sees no gap before the next one.
   */
  flush(camera: THREE.Vector3): void {
    if (!this.dirty) return
    this.dirty = false
    const geometry = this.mesh.geometry
    const p = geometry.attributes.position.array as Float32Array
    const nrm = geometry.attributes.normal.array as Float32Array
    const cx = camera.x
    const cy = camera.y
    const cz = camera.z
    const index = geometry.index as THREE.BufferAttribute
    const out = index.array as Uint32Array
    const colors = geometry.attributes.color as THREE.BufferAttribute
    const c = colors.array as Float32Array
    let n = 0
    for (const b of this.batches) {
      if (!b.standin) continue
      const template = b.standin.index?.array ?? []
      const count = b.standin.attributes.position.count
      for (const i of b.slots[STANDIN]) {
        const first = this.firstVertex[b.base + i]
        for (let j = 0; j + 2 < template.length; j += 3) {
          const a = first + template[j]
          const dx = p[a * 3] - cx
          const dy = p[a * 3 + 1] - cy
          const dz = p[a * 3 + 2] - cz
          const facing = dx * nrm[a * 3] + dy * nrm[a * 3 + 1] + dz * nrm[a * 3 + 2]
          if (facing > BACKFACE_MARGIN * Math.sqrt(dx * dx + dy * dy + dz * dz)) continue
          out[n++] = a
          out[n++] = first + template[j + 1]
          out[n++] = first + template[j + 2]
        }
        const color = b.colors[i]
        const light = this.light
        for (let j = 0; j < count; j++) {
          const o = (first + j) * 3
          c[o] = color.r * light[o]
          c[o + 1] = color.g * light[o + 1]
          c[o + 2] = color.b * light[o + 2]
        }
      }
    }
    geometry.setDrawRange(0, n)
    index.needsUpdate = true
    colors.needsUpdate = true
    this.mesh.visible = n > 0
  }

  dispose(): void {
    this.mesh.geometry.dispose()
    ;(this.mesh.material as THREE.Material).dispose()
  }
}

/**
 * Markers (people) as copies of one shape merged into a mesh whose vertices the page moves:
 * SwiftShader draws every instance of an instanced mesh as a draw of its own, so 500
 * instanced markers cost more than writing 500 x 6 vertices a frame.
 */
class MarkerLayer {
  readonly mesh: THREE.Mesh
  private shape: THREE.BufferGeometry | null = null
  private capacity = 0
  private template = new Float32Array(0)

  constructor(material: THREE.Material) {
    this.mesh = new THREE.Mesh(new THREE.BufferGeometry(), material)
    this.mesh.name = 'people'
    this.mesh.frustumCulled = false
    this.mesh.visible = false
  }

  /** Make room for `n` markers of `shape`; true when the buffers were rebuilt (write every marker again). */
  ensure(shape: THREE.BufferGeometry, n: number): boolean {
    if (shape === this.shape && n <= this.capacity) return false
    if (n > this.capacity) this.capacity = Math.max(64, 2 ** Math.ceil(Math.log2(n + 1)))
    this.shape = shape
    const pos = shape.attributes.position as THREE.BufferAttribute
    const nor = shape.attributes.normal as THREE.BufferAttribute
    const tri = shape.index ? Array.from(shape.index.array) : Array.from({ length: pos.count }, (_, i) => i)
    const vc = pos.count
    const cap = this.capacity
    this.template = Float32Array.from(pos.array as Float32Array)
    const normals = new Float32Array(cap * vc * 3)
    const index = new Uint32Array(cap * tri.length)
    for (let k = 0; k < cap; k++) {
      normals.set(nor.array as Float32Array, k * vc * 3)
      for (let j = 0; j < tri.length; j++) index[k * tri.length + j] = tri[j] + k * vc
    }
    const geometry = new THREE.BufferGeometry()
    geometry.setAttribute('position', new THREE.BufferAttribute(new Float32Array(cap * vc * 3), 3).setUsage(THREE.DynamicDrawUsage))
    geometry.setAttribute('normal', new THREE.BufferAttribute(normals, 3))
    geometry.setAttribute('color', new THREE.BufferAttribute(new Float32Array(cap * vc * 3), 3).setUsage(THREE.DynamicDrawUsage))
    geometry.setIndex(new THREE.BufferAttribute(index, 1))
    geometry.setDrawRange(0, 0)
    this.mesh.geometry.dispose()
    this.mesh.geometry = geometry
    return true
  }

  setCount(n: number): void {
    this.mesh.geometry.setDrawRange(0, n * (this.shape?.index?.count ?? this.template.length / 3))
    this.mesh.visible = n > 0
  }

  /** Put marker `i` at (x, y, z); call commit() after the last one of a frame. */
  move(i: number, x: number, y: number, z: number): void {
    const t = this.template
    const out = this.mesh.geometry.attributes.position.array as Float32Array
    const o = i * t.length
    for (let j = 0; j < t.length; j += 3) {
      out[o + j] = t[j] + x
      out[o + j + 1] = t[j + 1] + y
      out[o + j + 2] = t[j + 2] + z
    }
  }

  commit(): void {
    this.mesh.geometry.attributes.position.needsUpdate = true
  }

  setColor(i: number, color: THREE.Color): void {
    const colors = this.mesh.geometry.attributes.color as THREE.BufferAttribute
    const vc = this.template.length / 3
    const c = colors.array as Float32Array
    for (let j = i * vc; j < (i + 1) * vc; j++) {
      c[j * 3] = color.r
      c[j * 3 + 1] = color.g
      c[j * 3 + 2] = color.b
    }
    colors.needsUpdate = true
  }

  getColor(i: number, out: THREE.Color): THREE.Color {
    const vc = this.template.length / 3
    return out.fromArray(this.mesh.geometry.attributes.color.array as Float32Array, i * vc * 3)
  }

  dispose(): void {
    this.mesh.geometry.dispose()
  }
}

/** Copies of `template` placed by `matrices`, merged into one geometry with a (blank) colour per vertex. */
function mergeCopies(template: THREE.BufferGeometry, matrices: readonly THREE.Matrix4[]): THREE.BufferGeometry {
  const pos = template.attributes.position as THREE.BufferAttribute
  const nor = template.attributes.normal as THREE.BufferAttribute
  const tri = template.index ? Array.from(template.index.array) : Array.from({ length: pos.count }, (_, i) => i)
  const vc = pos.count
  const positions = new Float32Array(matrices.length * vc * 3)
  const normals = new Float32Array(matrices.length * vc * 3)
  const index = new Uint32Array(matrices.length * tri.length)
  const normalMatrix = new THREE.Matrix3()
  const v = new THREE.Vector3()
  matrices.forEach((m, k) => {
    normalMatrix.getNormalMatrix(m)
    for (let j = 0; j < vc; j++) {
      v.fromBufferAttribute(pos, j).applyMatrix4(m).toArray(positions, (k * vc + j) * 3)
      v.fromBufferAttribute(nor, j).applyMatrix3(normalMatrix).normalize().toArray(normals, (k * vc + j) * 3)
    }
    for (let j = 0; j < tri.length; j++) index[k * tri.length + j] = tri[j] + k * vc
  })
  const geometry = new THREE.BufferGeometry()
  geometry.setAttribute('position', new THREE.BufferAttribute(positions, 3))
  geometry.setAttribute('normal', new THREE.BufferAttribute(normals, 3))
  geometry.setAttribute('color', new THREE.BufferAttribute(new Float32Array(matrices.length * vc * 3), 3))
  geometry.setIndex(new THREE.BufferAttribute(index, 1))
  geometry.computeBoundingSphere()
  return geometry
}

function permitGlyph(workType: string): string {
  for (const [re, glyph] of PERMIT_GLYPH) if (re.test(workType)) return glyph
  return '票'
}

/**
 * The three.js twin: loads the plant GLB, draws every shape of equipment as one instanced
 * mesh (2,000 items are a handful of draw calls), colours equipment by alarm state,
 * outlines hazard sources in their risk colour, moves people as one instanced mesh, puts
 * permit icons at their work points and picks what is under the mouse. Labels are a small
 * pool given to the nearest objects (level of detail), never one per object.
 * The scene graph works without WebGL (no renderer), so the colouring stays testable on
 * machines without a GPU.
 */
export class TwinViewer {
  readonly scene = new THREE.Scene()
  readonly camera = new THREE.PerspectiveCamera(45, 1, 0.5, 5000)
  private renderer: THREE.WebGLRenderer | null = null
  private labels: CSS2DRenderer | null = null
  private controls: OrbitControls | null = null
  private readonly equipment = new Map<string, EquipmentNode>()
  private readonly batches: Batch[] = []
  private readonly smalls: SmallBatch[] = []
  private standins: StandinLayer | null = null
  /** Zone outlines: kerbs where they are wide enough to see, one-pixel lines further out. */
  private readonly zoneKerbs: THREE.Mesh[] = []
  private zoneLines: THREE.LineSegments | null = null
  private readonly hemi = new THREE.HemisphereLight('#ffffff', '#6b7560', 1.7)
  private readonly sun = new THREE.DirectionalLight('#ffffff', 2.0)
  private readonly resize = new ResizeObserver(() => this.fit())
  private readonly raycaster = new THREE.Raycaster()
  private frame = 0
  private selected: string | null = null
  private hovered: Pick | null = null
  private downAt: { x: number; y: number } | null = null
  private lastHover = 0
  private plantBox = new THREE.Box3()
  private homeDistance = 300
  private flight: { from: THREE.Vector3; to: THREE.Vector3; fromTarget: THREE.Vector3; toTarget: THREE.Vector3; t0: number } | null =
    null
  // labels (level of detail)
  private readonly equipmentLabels: CSS2DObject[] = []
  private readonly staticLabelPool: CSS2DObject[] = []
  private staticLabels: StaticLabel[] = []
  private labelledIds: string[] = []
  private lastLabels = 0
  private lastCamera = new THREE.Matrix4()
  // alarm halo
  private halo: THREE.InstancedMesh | null = null
  private haloMaterial = new THREE.MeshBasicMaterial({ color: ALARM_COLOR, transparent: true, opacity: 0.5, depthWrite: false })
  // hazard sources
  private hazardMesh: THREE.Mesh | null = null
  private readonly hazardIndex = new Map<string, number[]>() // source -> kerb indices
  private readonly hazardOfInstance: string[] = [] // kerb -> source
  /** Vertices of one kerb in the merged outline mesh. */
  private hazardKerbVertices = 0
  /** Each kerb's box, for picking. */
  private readonly hazardBoxes: THREE.Box3[] = []
  private readonly hazardLevel = new Map<string, string>()
  // people
  private people: MarkerLayer | null = null
  private readonly peopleMaterial = new THREE.MeshLambertMaterial({ color: '#ffffff', vertexColors: true })
  private readonly personSphere = new THREE.Sphere()
  private peopleIds: string[] = []
  private readonly personIndex = new Map<string, number>()
  private peopleFrom = new Float32Array(0)
  private peopleTo = new Float32Array(0)
  private peopleT0 = 0
  private readonly peopleData = new Map<string, PersonMarker>()
  private readonly peopleLabels: CSS2DObject[] = []
  private peopleLabelled: number[] = [] // person index per shown label
  private peopleAlarmed: ReadonlySet<string> = new Set()
  // cameras
  cameras: CameraInfo[] = []
  private readonly cameraSprites = new Map<string, THREE.Sprite>()
  private readonly cameraEvents = new Set<string>()
  // permits
  private readonly permitGroup = new THREE.Group()
  private readonly permitSprites = new Map<string, THREE.Sprite>()
  private readonly glyphTextures = new Map<string, THREE.CanvasTexture>()
  // frame counter for the benchmark, and the adaptive resolution it steers
  private frames = 0
  private fpsWindow = { t0: 0, frames: 0 }
  private scale = 1
  private readonly stats = { fps: 0, frameMs: 0, updateMs: 0, renderMs: 0, labelsMs: 0, pickMs: 0, last: 0 }
  private readonly labelCamera = new THREE.Matrix4()
  private readonly viewProjection = new THREE.Matrix4()
  private readonly labelScratch = new THREE.Vector3()
  /** The styles last written to each label element (written again only when they change). */
  private readonly labelState = new WeakMap<HTMLElement, { display: string; transform: string; z: number }>()
  private labelsDirty = true
  private readonly dummy = new THREE.Object3D()
  private readonly scratch = new THREE.Vector3()
  private readonly alarmColor = new THREE.Color(ALARM_COLOR)
  loaded = false
  webgl = false
  software = false
  areas: AreaPreset[] = []
  plantUserData: Record<string, unknown> = {}

  constructor(
    private readonly host: HTMLElement,
    private readonly opts: ViewerOptions = {},
  ) {
    this.scene.background = new THREE.Color('#dfe8ef')
    this.scene.add(this.hemi)
    this.sun.position.set(-120, 220, 140)
    this.scene.add(this.sun)
    this.scene.add(this.permitGroup)
    this.camera.position.set(120, 170, 120)
    this.software = softwareRenderer()
    try {
      // in software WebGL, multisampling and a doubled pixel ratio cost more than everything else
      this.renderer = new THREE.WebGLRenderer({ antialias: !this.software, powerPreference: 'high-performance' })
      this.renderer.setPixelRatio(this.software ? 1 : Math.min(window.devicePixelRatio, 2))
      this.renderer.domElement.dataset.testid = 'twin-webgl'
      host.appendChild(this.renderer.domElement)
      this.webgl = true
    } catch (err) {
      console.warn('WebGL unavailable; the twin keeps its state without drawing', err)
      this.renderer = null
    }
    this.labels = new CSS2DRenderer()
    this.labels.domElement.className = 'twin-labels'
    host.appendChild(this.labels.domElement)
    const target = this.renderer?.domElement ?? this.labels.domElement
    this.controls = new OrbitControls(this.camera, target)
    this.controls.enableDamping = true
    this.controls.maxPolarAngle = Math.PI * 0.48
    this.controls.minDistance = 8
    this.controls.maxDistance = 900
    this.controls.addEventListener('start', () => (this.flight = null))
    target.addEventListener('pointerdown', this.onPointerDown)
    target.addEventListener('pointerup', this.onPointerUp)
    target.addEventListener('pointermove', this.onPointerMove)
    target.addEventListener('pointerleave', this.onPointerLeave)
    this.resize.observe(host)
    this.fit()
    this.animate()
  }

  /** Load the plant GLB (with the bearer token) and put it in the scene. */
  async load(url: string, headers: Record<string, string>): Promise<void> {
    const loader = new GLTFLoader()
    loader.setRequestHeader(headers)
    performance.mark('twin:glb-request')
    const gltf = await loader.loadAsync(url)
    performance.mark('twin:glb-parsed')
    const root = gltf.scene
    this.plantUserData = root.userData as Record<string, unknown>
    root.updateMatrixWorld(true)
    const shapes = new Map<string, THREE.Mesh[]>()
    const statics = new Map<THREE.Material, THREE.BufferGeometry[]>()
    const areas: AreaPreset[] = []
    const staticLabels: StaticLabel[] = []
    const lods = new Map<string, THREE.BufferGeometry>()
    const cameras: CameraInfo[] = []
    const fixtures = new Map<string, THREE.Mesh[]>()
    const racks = new Map<string, THREE.Mesh[]>()
    const flat = new Set<THREE.Material>() // ground, area slabs, zone fills: lit the same everywhere
    const kerbs = new Set<THREE.Material>() // zone outlines
    const edges: number[] = [] // zone outlines as lines, for the distance: xyz xyz per segment
    const edgeColors: number[] = []
    const order = new Map<THREE.Material, number>()
    const slabs: FlatPiece[] = [] // area slabs, and the zone fills that lie on them (software WebGL: see cutZoneFills)
    const fills: FlatPiece[] = []
    root.traverse((obj) => {
      const mesh = obj as THREE.Mesh
      if (!mesh.isMesh) return
      const data = mesh.userData as Record<string, unknown>
      if (data.role === 'lod') {
        lods.set(String(data.shape), mesh.geometry)
        return
      }
      if (isEquipment(data)) {
        const key = `${mesh.geometry.uuid}|${(mesh.material as THREE.Material).uuid}`
        const list = shapes.get(key) ?? []
        list.push(mesh)
        shapes.set(key, list)
        return
      }
      const box = new THREE.Box3().setFromObject(mesh)
      if (data.role === 'camera' && typeof data.camera_id === 'string') {
        const position = new THREE.Vector3().setFromMatrixPosition(mesh.matrixWorld)
        cameras.push({ id: data.camera_id, name: String(data.name ?? data.camera_id), zone: (data.zone as string | null) ?? null, position })
      }
      if (data.role === 'camera' || data.role === 'anchor') {
        // hundreds of identical small fixtures: instanced, and left out where they would be a speck
        const key = `${mesh.geometry.uuid}|${(mesh.material as THREE.Material).uuid}`
        fixtures.set(key, [...(fixtures.get(key) ?? []), mesh])
        return
      }
      if (data.role === 'rack') {
        // pipe racks repeat one shape per length: instanced with a stand-in like equipment
        const key = `${mesh.geometry.uuid}|${(mesh.material as THREE.Material).uuid}`
        racks.set(key, [...(racks.get(key) ?? []), mesh])
        return
      }
      if (data.role === 'area' && typeof data.name === 'string' && data.kind !== 'road') {
        areas.push({ id: String(data.area_id), name: data.name, box })
        staticLabels.push({ text: data.name, kind: 'area', position: new THREE.Vector3(box.min.x + 4, 1, box.max.z - 4) })
      }
      if (data.role === 'zone' && typeof data.name === 'string' && !mesh.name.endsWith('-outline')) {
        staticLabels.push({ text: data.name, kind: 'zone', position: box.getCenter(new THREE.Vector3()).setY(1) })
        const color = (mesh.material as THREE.MeshStandardMaterial).color
        for (const [a, b] of boundaryEdges(mesh.geometry)) {
          a.applyMatrix4(mesh.matrixWorld).setY(OUTLINE_LINE_Y)
          b.applyMatrix4(mesh.matrixWorld).setY(OUTLINE_LINE_Y)
          edges.push(a.x, a.y, a.z, b.x, b.y, b.z)
          edgeColors.push(color.r, color.g, color.b, color.r, color.g, color.b)
        }
      }
      if (data.role === 'zone' && mesh.name.endsWith('-outline')) kerbs.add(mesh.material as THREE.Material)
      // static scenery is merged per material: hundreds of slabs and zones become a few draws
      const material = mesh.material as THREE.Material
      if (data.role === 'ground' || data.role === 'area' || (data.role === 'zone' && !mesh.name.endsWith('-outline'))) flat.add(material)
      // slabs are drawn after what stands on them, so the depth test spares the pixels they would
      // shade for nothing. The ground is drawn first and leaves the depth buffer alone: the slabs
      // lie 2-5 cm above it, less than the depth buffer resolves from the overview, and drawn
      // after them it covered whole triangles of them
      if (data.role === 'ground') order.set(material, -1)
      if (data.role === 'area') order.set(material, 1)
      const geometry = mesh.geometry.clone().applyMatrix4(mesh.matrixWorld)
      for (const name of Object.keys(geometry.attributes)) if (name !== 'position' && name !== 'normal') geometry.deleteAttribute(name)
      if (this.software && data.role === 'area') slabs.push({ box, material, geometry })
      if (this.software && data.role === 'zone' && !mesh.name.endsWith('-outline') && material.transparent) {
        fills.push({ box, material, geometry })
        return // added below unless it is cut into its slab
      }
      const list = statics.get(material) ?? []
      list.push(geometry)
      statics.set(material, list)
    })
    const cut = this.cutZoneFills(fills, slabs)
    for (const fill of fills) if (!cut.has(fill.geometry)) statics.set(fill.material, [...(statics.get(fill.material) ?? []), fill.geometry])
    for (const [material, list] of statics) {
      const kept = list.filter((g) => !cut.has(g))
      if (kept.length) statics.set(material, kept)
      else statics.delete(material)
    }
    for (const [source, geometries] of statics) {
      const merged = geometries.length === 1 ? geometries[0] : mergeGeometries(geometries, false)
      if (!merged) continue
      const material = flat.has(source) ? this.shadeFlat(source) : this.shade(source)
      if (material.transparent || order.get(source) === -1) material.depthWrite = false
      const mesh = new THREE.Mesh(merged, material)
      mesh.renderOrder = order.get(source) ?? 0
      if (kerbs.has(source)) this.zoneKerbs.push(mesh)
      mesh.name = `static-${material.name}`
      mesh.userData = { role: 'static' }
      this.scene.add(mesh)
    }
    if (edges.length) {
      const geometry = new THREE.BufferGeometry()
      geometry.setAttribute('position', new THREE.Float32BufferAttribute(edges, 3))
      geometry.setAttribute('color', new THREE.Float32BufferAttribute(edgeColors, 3))
      this.zoneLines = new THREE.LineSegments(geometry, new THREE.LineBasicMaterial({ vertexColors: true }))
      this.zoneLines.name = 'zone-lines'
      this.zoneLines.visible = false
      this.scene.add(this.zoneLines)
    }
    performance.mark('twin:static-merged')
    for (const meshes of shapes.values()) this.addBatch(meshes, lods.get(String(meshes[0].userData.shape)) ?? null)
    for (const meshes of racks.values()) this.addRackBatch(meshes)
    // software WebGL: the stand-ins' light is baked into their vertex colours (flat faces, fixed lights)
    const standinMaterial = this.software
      ? new THREE.MeshBasicMaterial({ vertexColors: true })
      : new THREE.MeshStandardMaterial({ vertexColors: true, roughness: 0.7, metalness: 0.1 })
    this.standins = new StandinLayer(this.batches, standinMaterial, this.software ? (n, out) => this.lightOn(n, out) : null)
    this.scene.add(this.standins.mesh)
    for (const meshes of fixtures.values()) this.addSmallBatch(meshes)
    this.areas = areas.sort((a, b) => a.name.localeCompare(b.name, 'zh-CN'))
    this.staticLabels = staticLabels
    this.buildHalo()
    this.buildHazardOutlines()
    this.cameras = cameras
    this.buildCameras()
    this.plantBox = new THREE.Box3().setFromObject(root)
    this.frameAll()
    for (const batch of this.batches) this.layoutBatch(batch)
    this.loaded = true
    performance.mark('twin:scene-ready')
  }

  private addBatch(meshes: THREE.Mesh[], lod: THREE.BufferGeometry | null): void {
    const first = meshes[0]
    first.geometry.computeBoundingBox()
    const local = first.geometry.boundingBox ?? new THREE.Box3()
    const extent = local.getSize(new THREE.Vector3())
    // buildings are a few boxes already: no coarser level
    const standin = first.userData.kind === 'building' ? null : standinGeometry(local)
    const batch = this.makeBatch(first, [first.geometry, lod], standin, true, Math.max(extent.x, extent.y, extent.z), meshes.length)
    meshes.forEach((m, i) => {
      const extras = m.userData as EquipmentExtras
      const color = new THREE.Color(extras.color ?? hex((m.material as THREE.MeshStandardMaterial).color))
      const world = local.clone().applyMatrix4(m.matrixWorld)
      const node: EquipmentNode = {
        extras,
        batch,
        index: i,
        color: color.clone(),
        normalColor: color,
        centre: world.getCenter(new THREE.Vector3()),
        top: world.max.y,
        footprint: world,
        alarm: false,
      }
      batch.ids.push(extras.asset_id)
      batch.matrices.push(m.matrixWorld.clone())
      batch.centres.push(node.centre)
      batch.colors.push(node.color)
      this.equipment.set(extras.asset_id, node)
    })
    this.batches.push(batch)
  }

  /** Pipe racks: the full portal frames near, a slab where the pipes run further out. */
  private addRackBatch(meshes: THREE.Mesh[]): void {
    const first = meshes[0]
    first.geometry.computeBoundingBox()
    const local = first.geometry.boundingBox ?? new THREE.Box3()
    const extent = local.getSize(new THREE.Vector3())
    const pipes = local.clone()
    pipes.min.y = Math.max(local.min.y, local.max.y - 1.2)
    const color = (first.material as THREE.MeshStandardMaterial).color.clone()
    // the detail that disappears is the rack's cross-section (posts, pipes), not its length
    const size = Math.min(extent.x, extent.z)
    const batch = this.makeBatch(first, [first.geometry, null], standinGeometry(pipes), false, size, meshes.length)
    for (const m of meshes) {
      batch.ids.push('')
      batch.matrices.push(m.matrixWorld.clone())
      batch.centres.push(local.getCenter(new THREE.Vector3()).applyMatrix4(m.matrixWorld))
      batch.colors.push(color)
    }
    this.batches.push(batch)
  }

  private makeBatch(
    first: THREE.Mesh,
    geometries: Array<THREE.BufferGeometry | null>,
    standin: THREE.BufferGeometry | null,
    pickable: boolean,
    size: number,
    capacity: number,
  ): Batch {
    const material = this.shade(first.material as THREE.Material)
    if (material === first.material) throw new Error('shade() must return a new material')
    ;(material as THREE.MeshStandardMaterial).color.set('#ffffff') // the instance colour is the colour
    const levels = geometries.map((geometry, level) => {
      if (!geometry) return null
      const m = new THREE.InstancedMesh(geometry, material, capacity)
      m.name = `${pickable ? 'equipment' : 'scenery'}-${String(first.userData.shape ?? first.name)}${level ? `-lod${level}` : ''}`
      m.frustumCulled = false // instances move between the levels: bounds would go stale
      m.setColorAt(0, new THREE.Color()) // allocate instanceColor
      m.count = 0
      m.visible = false
      this.scene.add(m)
      return m
    })
    const slots: number[][] = [[], [], []]
    return { levels, standin, base: 0, ids: [], pickable, matrices: [], centres: [], colors: [], size, slots }
  }

  private addSmallBatch(meshes: THREE.Mesh[]): void {
    const first = meshes[0]
    const mesh = new THREE.InstancedMesh(first.geometry, this.shade(first.material as THREE.Material), meshes.length)
    mesh.name = `fixture-${String(first.userData.role)}`
    mesh.frustumCulled = false
    first.geometry.computeBoundingBox()
    const box = first.geometry.boundingBox ?? new THREE.Box3()
    const extent = box.getSize(new THREE.Vector3())
    const small: SmallBatch = {
      mesh,
      matrices: meshes.map((m) => m.matrixWorld.clone()),
      centres: meshes.map((m) => box.getCenter(new THREE.Vector3()).applyMatrix4(m.matrixWorld)),
      size: Math.max(extent.x, extent.y, extent.z),
    }
    this.smalls.push(small)
    this.scene.add(mesh)
    this.layoutSmall(small)
  }

  /** Keep the copies that are at least SMALL_MIN_PIXELS wide from where the camera is. */
  private layoutSmall(small: SmallBatch): void {
    const cutoff = small.size / (SMALL_MIN_PIXELS * this.pixelAngle())
    const cam = this.camera.position
    let n = 0
    for (let i = 0; i < small.matrices.length; i++) {
      if (small.centres[i].distanceTo(cam) > cutoff) continue
      small.mesh.setMatrixAt(n++, small.matrices[i])
    }
    small.mesh.count = n
    small.mesh.visible = n > 0
    small.mesh.instanceMatrix.needsUpdate = true
  }

  /**
   * Diffuse light on a face with normal `n` from the twin's two lights, as MeshLambertMaterial
   * computes it (hemisphere + directional, Lambert BRDF 1/pi): baked into colours, an unlit
   * material draws a flat face exactly as the lit one does, for a fraction of the per-pixel cost.
   */
  private lightOn(n: THREE.Vector3, out: THREE.Color): THREE.Color {
    const sky = this.hemi.position.clone().normalize()
    out.copy(this.hemi.groundColor).lerp(this.hemi.color, 0.5 * n.dot(sky) + 0.5).multiplyScalar(this.hemi.intensity)
    const toSun = this.sun.position.clone().sub(this.sun.target.position).normalize()
    const direct = this.sun.color.clone().multiplyScalar(this.sun.intensity * Math.max(0, n.dot(toSun)))
    return out.add(direct).multiplyScalar(1 / Math.PI)
  }

  /**
   * Software WebGL: a zone fill is 28 % opaque over its area slab, and blending it over large
   * areas costs about a sixth of the frame. Drawn opaque in the blended colour it would lie
   * 4 cm over the slab, less than the depth buffer resolves from the overview (whole triangles
   * of it lose to the slab), so instead a rectangular fill that lies on one box slab, alone,
   * is cut into the slab's top: the top becomes a ring in the slab's colour around a rectangle
   * in the blend of the two flat, baked colours (blended on sRGB values, as the framebuffer
   * blends them). One merged mesh with vertex colours, no blending, nothing drawn twice.
   * Returns the fill and slab geometries it replaced.
   */
  private cutZoneFills(fills: readonly FlatPiece[], slabs: readonly FlatPiece[]): Set<THREE.BufferGeometry> {
    const cut = new Set<THREE.BufferGeometry>()
    const eps = 0.01
    const overlap = (a: THREE.Box3, b: THREE.Box3): boolean =>
      a.min.x < b.max.x - eps && b.min.x < a.max.x - eps && a.min.z < b.max.z - eps && b.min.z < a.max.z - eps
    const within = (a: THREE.Box3, b: THREE.Box3): boolean =>
      a.min.x >= b.min.x + eps && a.max.x <= b.max.x - eps && a.min.z >= b.min.z + eps && a.max.z <= b.max.z - eps
    const rectangle = (g: THREE.BufferGeometry, box: THREE.Box3): boolean => {
      const pos = g.attributes.position
      for (let v = 0; v < pos.count; v++) {
        const x = pos.getX(v)
        const z = pos.getZ(v)
        if (Math.min(Math.abs(x - box.min.x), Math.abs(x - box.max.x)) > eps) return false
        if (Math.min(Math.abs(z - box.min.z), Math.abs(z - box.max.z)) > eps) return false
      }
      return true
    }
    const light = this.lightOn(new THREE.Vector3(0, 1, 0), new THREE.Color())
    const lit = (m: THREE.Material): THREE.Color => (m as THREE.MeshStandardMaterial).color.clone().multiply(light)
    const srgb = (c: THREE.Color): THREE.Color => {
      const out = { r: 0, g: 0, b: 0 }
      c.getRGB(out, THREE.SRGBColorSpace)
      const k = (v: number): number => Math.min(1, Math.max(0, v)) // the framebuffer clamps what it stores
      return new THREE.Color(k(out.r), k(out.g), k(out.b)) // sRGB components held as plain numbers
    }
    const positions: number[] = []
    const colors: number[] = []
    const b = new THREE.Vector3()
    const c = new THREE.Vector3()
    const triangle = (p: THREE.Vector3, q: THREE.Vector3, r: THREE.Vector3, color: THREE.Color): void => {
      // tops wound to face up; the slab's sides keep their winding
      const n = b.subVectors(q, p).cross(c.subVectors(r, p))
      const flip = Math.abs(n.y) > 1e-9 && n.y < 0
      for (const v of flip ? [p, r, q] : [p, q, r]) {
        positions.push(v.x, v.y, v.z)
        colors.push(color.r, color.g, color.b)
      }
    }
    const quad = (x0: number, z0: number, x1: number, z1: number, y: number, color: THREE.Color): void => {
      if (x1 - x0 < eps || z1 - z0 < eps) return
      const p = [new THREE.Vector3(x0, y, z0), new THREE.Vector3(x1, y, z0), new THREE.Vector3(x1, y, z1), new THREE.Vector3(x0, y, z1)]
      triangle(p[0], p[1], p[2], color)
      triangle(p[0], p[2], p[3], color)
    }
    for (const fill of fills) {
      const std = fill.material as THREE.MeshStandardMaterial
      if (!std.isMeshStandardMaterial || !rectangle(fill.geometry, fill.box)) continue
      if (fills.some((other) => other !== fill && overlap(fill.box, other.box))) continue
      const under = slabs.filter((slab) => overlap(fill.box, slab.box))
      if (under.length !== 1 || !within(fill.box, under[0].box)) continue
      const slab = under[0]
      if (cut.has(slab.geometry) || fills.some((other) => other !== fill && overlap(other.box, slab.box))) continue
      if (!rectangle(slab.geometry, slab.box)) continue
      const base = lit(slab.material)
      const mix = srgb(base).lerp(srgb(lit(std)), std.opacity)
      const blend = new THREE.Color().setRGB(mix.r, mix.g, mix.b, THREE.SRGBColorSpace)
      // the slab less its top, then the top as a ring round the fill
      const g = slab.geometry.index ? slab.geometry.toNonIndexed() : slab.geometry
      const pos = g.attributes.position
      const top = slab.box.max.y
      const p = new THREE.Vector3()
      const q = new THREE.Vector3()
      const r = new THREE.Vector3()
      for (let v = 0; v < pos.count; v += 3) {
        p.fromBufferAttribute(pos, v)
        q.fromBufferAttribute(pos, v + 1)
        r.fromBufferAttribute(pos, v + 2)
        if (Math.abs(p.y - top) < eps && Math.abs(q.y - top) < eps && Math.abs(r.y - top) < eps) continue
        triangle(p.clone(), q.clone(), r.clone(), base)
      }
      const o = slab.box
      const i = fill.box
      quad(o.min.x, o.min.z, o.max.x, i.min.z, top, base)
      quad(o.min.x, i.max.z, o.max.x, o.max.z, top, base)
      quad(o.min.x, i.min.z, i.min.x, i.max.z, top, base)
      quad(i.max.x, i.min.z, o.max.x, i.max.z, top, base)
      quad(i.min.x, i.min.z, i.max.x, i.max.z, top, blend)
      cut.add(slab.geometry)
      cut.add(fill.geometry)
    }
    if (!cut.size) return cut
    const geometry = new THREE.BufferGeometry()
    geometry.setAttribute('position', new THREE.Float32BufferAttribute(positions, 3))
    geometry.setAttribute('color', new THREE.Float32BufferAttribute(colors, 3))
    const mesh = new THREE.Mesh(geometry, new THREE.MeshBasicMaterial({ vertexColors: true }))
    mesh.name = 'static-areas-with-zones'
    mesh.userData = { role: 'static' }
    mesh.renderOrder = 1 // with the other slabs
    this.scene.add(mesh)
    return cut
  }

  /**
   * The material of a flat, upward-facing layer (ground, area slabs, zone fills). In software
   * WebGL these cover most of the screen, so they are drawn unlit with the light they would
   * get baked into the colour: the same look, without lighting every pixel.
   */
  private shadeFlat(source: THREE.Material): THREE.Material {
    const std = source as THREE.MeshStandardMaterial
    if (!this.software || !std.isMeshStandardMaterial) return this.shade(source)
    const baked = std.color.clone().multiply(this.lightOn(new THREE.Vector3(0, 1, 0), new THREE.Color()))
    return cheapCopy(std, new THREE.MeshBasicMaterial({ color: baked }))
  }

  /**
   * A copy of a GLB material to draw with. In software WebGL every pixel of a PBR shader costs
   * CPU, so there it becomes a Lambert material of the same colour (diffuse light only).
   */
  private shade(source: THREE.Material): THREE.Material {
    const std = source as THREE.MeshStandardMaterial
    if (!this.software || !std.isMeshStandardMaterial) return source.clone()
    return cheapCopy(std, new THREE.MeshLambertMaterial({ color: std.color }))
  }

  /**
   * Level of detail per item: the full mesh within the detail radius of the camera, the
   * stand-in where the item is under STANDIN_PIXELS wide on screen, the coarse mesh between.
   */
  private layoutBatch(batch: Batch): void {
    const cam = this.camera.position
    const radius = this.detailRadius()
    const far = batch.size / (STANDIN_PIXELS * this.pixelAngle())
    const mid = batch.levels[COARSE] ? COARSE : FINE
    const distant = batch.standin ? STANDIN : mid
    for (const slots of batch.slots) slots.length = 0
    for (let i = 0; i < batch.ids.length; i++) {
      const d = batch.centres[i].distanceTo(cam)
      batch.slots[d >= far ? distant : d < radius ? FINE : mid].push(i)
    }
    this.standins?.invalidate()
    batch.levels.forEach((mesh, level) => {
      if (!mesh) return
      const slots = batch.slots[level]
      for (let k = 0; k < slots.length; k++) {
        mesh.setMatrixAt(k, batch.matrices[slots[k]])
        mesh.setColorAt(k, batch.colors[slots[k]])
      }
      mesh.count = slots.length
      mesh.visible = slots.length > 0 // an empty level costs no draw set-up
      mesh.instanceMatrix.needsUpdate = true
      if (mesh.instanceColor) mesh.instanceColor.needsUpdate = true
      mesh.boundingSphere = null // picking tests the instances' bounds first: recompute them for the new set
      mesh.boundingBox = null
    })
  }

  /** The angle one CSS pixel of the view covers (radians). */
  private pixelAngle(): number {
    return THREE.MathUtils.degToRad(this.camera.fov) / Math.max(1, this.host.clientHeight)
  }

  private detailRadius(): number {
    return Math.max(80, this.homeDistance * 0.25)
  }

  /** A flat ring under each alarmed item that breathes (the instance colour stays the alarm colour). */
  private buildHalo(): void {
    const ring = new THREE.RingGeometry(0.62, 0.78, 40).rotateX(-Math.PI / 2)
    this.halo = new THREE.InstancedMesh(ring, this.haloMaterial, Math.max(1, this.equipment.size))
    this.halo.count = 0
    this.halo.visible = false
    this.halo.frustumCulled = false
    this.halo.renderOrder = 2
    this.scene.add(this.halo)
  }

  /** Four kerbs around the footprint of each hazard source's equipment, in one instanced mesh. */
  private buildHazardOutlines(): void {
    const boxes = new Map<string, THREE.Box3>()
    for (const node of this.equipment.values()) {
      const source = node.extras.hazard_source
      if (!source) continue
      const box = boxes.get(source) ?? new THREE.Box3()
      box.union(node.footprint)
      boxes.set(source, box)
    }
    if (!boxes.size) return
    // one merged mesh of kerbs with vertex colours: one draw (an instanced mesh would be a draw per kerb in SwiftShader)
    const unit = standinGeometry(new THREE.Box3(new THREE.Vector3(-0.5, 0, -0.5), new THREE.Vector3(0.5, 1, 0.5)))
    const matrices: THREE.Matrix4[] = []
    let i = 0
    for (const [source, box] of boxes) {
      const pad = 3
      const x0 = box.min.x - pad
      const x1 = box.max.x + pad
      const z0 = box.min.z - pad
      const z1 = box.max.z + pad
      const w = 0.9
      const h = 0.35
      const edges: Array<[number, number, number, number]> = [
        [(x0 + x1) / 2, z0, x1 - x0 + w, w],
        [(x0 + x1) / 2, z1, x1 - x0 + w, w],
        [x0, (z0 + z1) / 2, w, z1 - z0],
        [x1, (z0 + z1) / 2, w, z1 - z0],
      ]
      const indices: number[] = []
      for (const [cx, cz, sx, sz] of edges) {
        this.dummy.position.set(cx, 0.12, cz)
        this.dummy.scale.set(sx, h, sz)
        this.dummy.updateMatrix()
        matrices.push(this.dummy.matrix.clone())
        this.hazardBoxes.push(new THREE.Box3(new THREE.Vector3(-0.5, 0, -0.5), new THREE.Vector3(0.5, 1, 0.5)).applyMatrix4(this.dummy.matrix))
        this.hazardOfInstance[i] = source
        indices.push(i++)
      }
      this.hazardIndex.set(source, indices)
    }
    const mesh = new THREE.Mesh(mergeCopies(unit, matrices), new THREE.MeshBasicMaterial({ vertexColors: true }))
    mesh.name = 'hazard-outlines'
    this.hazardKerbVertices = unit.attributes.position.count
    this.hazardMesh = mesh
    const grey = new THREE.Color(RISK_COLORS.none)
    for (let k = 0; k < matrices.length; k++) this.colourKerb(k, grey)
    this.scene.add(mesh)
  }

  private colourKerb(kerb: number, color: THREE.Color): void {
    const attr = this.hazardMesh?.geometry.attributes.color as THREE.BufferAttribute | undefined
    if (!attr) return
    const c = attr.array as Float32Array
    for (let v = kerb * this.hazardKerbVertices; v < (kerb + 1) * this.hazardKerbVertices; v++) color.toArray(c, v * 3)
    attr.needsUpdate = true
  }

  /** Colour each hazard source's outline by its risk level (red/orange/yellow/blue; null: not scored). */
  setHazardLevels(levels: ReadonlyMap<string, string | null>): void {
    const mesh = this.hazardMesh
    if (!mesh) return
    const color = new THREE.Color()
    for (const [source, indices] of this.hazardIndex) {
      const level = levels.get(source) ?? null
      this.hazardLevel.set(source, level ?? 'none')
      color.set(RISK_COLORS[level ?? 'none'] ?? RISK_COLORS.none)
      for (const i of indices) this.colourKerb(i, color)
    }
  }

  /** Current outline colour of a hazard source as '#rrggbb', '' when it has no outline. */
  hazardColor(id: string): string {
    const indices = this.hazardIndex.get(id)
    if (!indices || !this.hazardMesh) return ''
    const colors = this.hazardMesh.geometry.attributes.color.array as Float32Array
    return hex(new THREE.Color().fromArray(colors, indices[0] * this.hazardKerbVertices * 3))
  }

  hazardSources(): string[] {
    return [...this.hazardIndex.keys()]
  }

  /** Look at the whole plant from the south; the plant fills the view. */
  frameAll(): void {
    this.frameBox(this.plantBox, 44, false)
  }

  /** Fly to an area (camera preset). */
  flyToArea(id: string): void {
    const area = this.areas.find((a) => a.id === id)
    if (area) this.frameBox(area.box, 50, true)
  }

  /** Fly to a piece of equipment. */
  flyToEquipment(id: string): void {
    const node = this.equipment.get(id)
    if (node) this.frameBox(node.footprint.clone().expandByScalar(12), 40, true)
  }

  private frameBox(box: THREE.Box3, elevationDeg: number, animate: boolean): void {
    if (box.isEmpty()) return
    const centre = box.getCenter(new THREE.Vector3())
    const size = box.getSize(new THREE.Vector3())
    const vfov = THREE.MathUtils.degToRad(this.camera.fov)
    const hfov = 2 * Math.atan(Math.tan(vfov / 2) * this.camera.aspect)
    const elevation = THREE.MathUtils.degToRad(elevationDeg)
    // width must fit the horizontal field of view, the foreshortened depth (plus height) the vertical one
    const fitWidth = size.x / 2 / Math.tan(hfov / 2)
    const fitDepth = (size.z * Math.sin(elevation) + size.y * Math.cos(elevation)) / 2 / Math.tan(vfov / 2)
    let distance = Math.max(fitWidth, fitDepth, 20) * 0.9
    const dir = new THREE.Vector3(0, Math.sin(elevation), Math.cos(elevation))
    centre.y = 0
    let to = centre.clone().addScaledVector(dir, distance)
    // perspective widens the near edge: step back until every corner of the box is in view
    const probe = this.camera.clone()
    const corners = [0, 1, 2, 3, 4, 5, 6, 7].map(
      (i) =>
        new THREE.Vector3(i & 1 ? box.max.x : box.min.x, i & 2 ? box.max.y : box.min.y, i & 4 ? box.max.z : box.min.z),
    )
    for (let k = 0; k < 40; k++) {
      probe.position.copy(to)
      probe.lookAt(centre)
      probe.updateMatrixWorld()
      const inside = corners.every((c) => {
        const p = c.clone().project(probe)
        return Math.abs(p.x) <= 0.97 && Math.abs(p.y) <= 0.95 && p.z < 1
      })
      if (inside) break
      distance *= 1.04
      to = centre.clone().addScaledVector(dir, distance)
    }
    if (box === this.plantBox) {
      this.homeDistance = distance
      this.camera.far = Math.max(distance * 6, 1000)
      this.camera.near = Math.max(0.5, distance / 2000)
      this.camera.updateProjectionMatrix()
      if (this.controls) this.controls.maxDistance = distance * 2.5
      this.scene.fog = new THREE.Fog('#dfe8ef', distance * 1.6, distance * 5)
    }
    if (!animate || !this.controls) {
      this.camera.position.copy(to)
      this.controls?.target.copy(centre)
      this.controls?.update()
      return
    }
    this.flight = {
      from: this.camera.position.clone(),
      to,
      fromTarget: this.controls.target.clone(),
      toTarget: centre,
      t0: performance.now(),
    }
  }

  /** Ids of the equipment in the GLB. */
  equipmentIds(): string[] {
    return [...this.equipment.keys()]
  }

  /** Current colour of an equipment item as '#rrggbb' (sRGB), or '' when unknown. */
  equipmentColor(id: string): string {
    const node = this.equipment.get(id)
    return node ? hex(node.color) : ''
  }

  /** Where an item is on screen (CSS pixels in the host), or null when behind the camera / unknown. */
  screenPosition(id: string): { x: number; y: number } | null {
    const node = this.equipment.get(id)
    const cam = this.cameraSprites.get(id)
    const at = node ? node.centre : cam ? cam.position.clone().setY(cam.position.y + 4) : null
    if (!at) return null
    const p = at.clone().project(this.camera)
    if (p.z > 1) return null
    return { x: ((p.x + 1) / 2) * this.host.clientWidth, y: ((1 - p.y) / 2) * this.host.clientHeight }
  }

  /** How an item is drawn now: its full mesh, the coarse mesh, or the far box (stand-in); null when unknown. */
  drawnAs(id: string): 'fine' | 'coarse' | 'box' | null {
    const node = this.equipment.get(id)
    if (!node) return null
    const level = node.batch.slots.findIndex((slots) => slots.includes(node.index))
    return level === FINE ? 'fine' : level === COARSE ? 'coarse' : level === STANDIN ? 'box' : null
  }

  /** The screen rectangle (CSS pixels in the host) an item's box covers; null when unknown or behind the camera. */
  screenBox(id: string): { x0: number; y0: number; x1: number; y1: number } | null {
    const box = this.equipment.get(id)?.footprint
    if (!box) return null
    const out = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity }
    for (let i = 0; i < 8; i++) {
      const p = this.scratch
        .set(i & 1 ? box.max.x : box.min.x, i & 2 ? box.max.y : box.min.y, i & 4 ? box.max.z : box.min.z)
        .project(this.camera)
      if (p.z > 1) return null
      const x = ((p.x + 1) / 2) * this.host.clientWidth
      const y = ((1 - p.y) / 2) * this.host.clientHeight
      out.x0 = Math.min(out.x0, x)
      out.x1 = Math.max(out.x1, x)
      out.y0 = Math.min(out.y0, y)
      out.y1 = Math.max(out.y1, y)
    }
    return out
  }

  /** The middle of the top of each kerb outlining a hazard source, on screen (CSS pixels in the host). */
  hazardOutlinePoints(id: string): Array<{ x: number; y: number }> {
    const points: Array<{ x: number; y: number }> = []
    for (const kerb of this.hazardIndex.get(id) ?? []) {
      const box = this.hazardBoxes[kerb]
      const p = box.getCenter(new THREE.Vector3()).setY(box.max.y).project(this.camera)
      if (p.z > 1) continue
      points.push({ x: ((p.x + 1) / 2) * this.host.clientWidth, y: ((1 - p.y) / 2) * this.host.clientHeight })
    }
    return points
  }

  /** Colour equipment: those in `alarmed` turn ALARM_COLOR (with a breathing ring), the rest their own colour. */
  setAlarmed(alarmed: ReadonlySet<string>): void {
    const touched = new Set<Batch>()
    for (const node of this.equipment.values()) {
      const alarm = alarmed.has(node.extras.asset_id)
      if (alarm === node.alarm) continue
      node.alarm = alarm
      node.color.set(alarm ? ALARM_COLOR : node.normalColor)
      touched.add(node.batch)
    }
    for (const batch of touched) this.layoutBatch(batch)
    this.updateHalo()
    this.lastLabels = 0 // alarmed items always get a label
  }

  private updateHalo(): void {
    const halo = this.halo
    if (!halo) return
    let n = 0
    for (const node of this.equipment.values()) {
      if (!node.alarm) continue
      const size = node.footprint.getSize(new THREE.Vector3())
      const r = Math.max(size.x, size.z) * 0.75 + 1.5
      this.dummy.position.set(node.centre.x, 0.2, node.centre.z)
      this.dummy.scale.set(r, 1, r)
      this.dummy.updateMatrix()
      halo.setMatrixAt(n++, this.dummy.matrix)
    }
    halo.count = n
    halo.visible = n > 0
    halo.instanceMatrix.needsUpdate = true
  }

  select(id: string | null): void {
    this.selected = id
    this.lastLabels = 0
  }

  // ---- people ---------------------------------------------------------------------------

  /** New positions of the people on site; markers glide there over the next second. */
  setPeople(list: readonly PersonMarker[]): void {
    const now = performance.now()
    const current = this.currentPeoplePositions(now)
    const n = list.length
    if (!this.people) {
      this.people = new MarkerLayer(this.peopleMaterial)
      this.scene.add(this.people.mesh)
    }
    this.people.ensure(this.peopleShape(), n)
    const from = new Float32Array(n * 3)
    const to = new Float32Array(n * 3)
    const ids: string[] = []
    this.personIndex.clear()
    this.peopleData.clear()
    list.forEach((p, i) => {
      const x = p.x
      const y = p.z ?? 0
      const z = -p.y
      const old = current.get(p.person_id)
      from.set(old ?? [x, y, z], i * 3)
      to.set([x, y, z], i * 3)
      ids.push(p.person_id)
      this.personIndex.set(p.person_id, i)
      this.peopleData.set(p.person_id, p)
    })
    this.peopleIds = ids
    this.peopleFrom = from
    this.peopleTo = to
    this.peopleT0 = now
    this.people.setCount(n)
    this.people.mesh.userData.settled = null // write every marker on the next frame
    this.colourPeople()
    this.lastLabels = 0 // names follow the new list
  }

  /** People with an alarm (man down, forbidden zone ...) are drawn in the alarm colour. */
  setPeopleAlarmed(ids: ReadonlySet<string>): void {
    this.peopleAlarmed = ids
    this.colourPeople()
  }

  private colourPeople(): void {
    const layer = this.people
    if (!layer) return
    const normal = PERSON_COLOR
    const alarm = this.alarmColor
    for (let i = 0; i < this.peopleIds.length; i++) layer.setColor(i, this.peopleAlarmed.has(this.peopleIds[i]) ? alarm : normal)
  }

  /** Colour of a person marker as '#rrggbb', '' when the person is not drawn. */
  personColor(id: string): string {
    const i = this.personIndex.get(id)
    if (i === undefined || !this.people) return ''
    return hex(this.people.getColor(i, new THREE.Color()))
  }

  /** The marker shape for the current zoom; a new shape rewrites every marker and its colour. */
  private reshapePeople(): void {
    if (!this.people || !this.people.ensure(this.peopleShape(), this.peopleIds.length)) return
    this.people.setCount(this.peopleIds.length)
    this.people.mesh.userData.settled = null
    this.colourPeople()
  }

  /** The person whose marker the ray meets first, with the distance (markers as spheres of their height). */
  private pickPerson(ray: THREE.Ray): [number, number] | null {
    const a = Math.min(1, (performance.now() - this.peopleT0) / PEOPLE_EASE_MS)
    const sphere = this.personSphere
    let best: [number, number] | null = null
    for (let i = 0; i < this.peopleIds.length; i++) {
      this.personPosition(i, a, sphere.center)
      sphere.center.y += PERSON_HEIGHT / 2
      sphere.radius = PERSON_HEIGHT / 2
      if (!ray.intersectsSphere(sphere)) continue
      const d = sphere.center.distanceTo(ray.origin)
      if (!best || d < best[1]) best = [i, d]
    }
    return best
  }

  /**
   * The marker's shape for the current zoom (level of detail): a round figure close up, a
   * five-sided one further out, and a standing diamond from the overview, where a person is
   * a few pixels tall and 500 round figures would cost more triangles than the whole plant.
   */
  private peopleShape(): THREE.BufferGeometry {
    if (!this.controls) return PERSON_FINE
    const d = this.camera.position.distanceTo(this.controls.target)
    if (d < this.detailRadius() * 1.5) return PERSON_FINE
    return PERSON_HEIGHT / (d * this.pixelAngle()) >= STANDIN_PIXELS ? PERSON_COARSE : PERSON_FAR
  }

  private currentPeoplePositions(now: number): Map<string, [number, number, number]> {
    const out = new Map<string, [number, number, number]>()
    const a = Math.min(1, (now - this.peopleT0) / PEOPLE_EASE_MS)
    this.peopleIds.forEach((id, i) => {
      const k = i * 3
      out.set(id, [
        this.peopleFrom[k] + (this.peopleTo[k] - this.peopleFrom[k]) * a,
        this.peopleFrom[k + 1] + (this.peopleTo[k + 1] - this.peopleFrom[k + 1]) * a,
        this.peopleFrom[k + 2] + (this.peopleTo[k + 2] - this.peopleFrom[k + 2]) * a,
      ])
    })
    return out
  }

  /** Glide the markers: one write of the instance matrix buffer per frame; true when they moved. */
  private updatePeople(now: number): boolean {
    const layer = this.people
    if (!layer || !this.peopleIds.length) return false
    const a = Math.min(1, (now - this.peopleT0) / PEOPLE_EASE_MS)
    const data = layer.mesh.userData
    if (a >= 1 && data.settled === this.peopleT0) return false
    const from = this.peopleFrom
    const to = this.peopleTo
    for (let i = 0; i < this.peopleIds.length; i++) {
      const k = i * 3
      layer.move(
        i,
        from[k] + (to[k] - from[k]) * a,
        from[k + 1] + (to[k + 1] - from[k + 1]) * a,
        from[k + 2] + (to[k + 2] - from[k + 2]) * a,
      )
    }
    layer.commit()
    data.settled = a >= 1 ? this.peopleT0 : null
    this.placePeopleLabels(a)
    return true
  }

  private personPosition(i: number, a: number, out: THREE.Vector3): THREE.Vector3 {
    const k = i * 3
    const f = this.peopleFrom
    const t = this.peopleTo
    return out.set(f[k] + (t[k] - f[k]) * a, f[k + 1] + (t[k + 1] - f[k + 1]) * a, f[k + 2] + (t[k + 2] - f[k + 2]) * a)
  }

  /** Name labels for the nearest people in view (and the hovered one): a pool, never one per person. */
  private updatePeopleLabels(frustum: THREE.Frustum, now: number): void {
    const a = Math.min(1, (now - this.peopleT0) / PEOPLE_EASE_MS)
    const cam = this.camera.position
    const p = new THREE.Vector3()
    const hovered = this.hovered?.kind === 'person' ? this.personIndex.get(this.hovered.id) : undefined
    // named people first (a name says more than a badge id), then the nearest; no two labels overlap on screen
    const scored: Array<[number, number, number]> = []
    for (let i = 0; i < this.peopleIds.length; i++) {
      if (i === hovered) continue
      this.personPosition(i, a, p)
      if (!frustum.containsPoint(p)) continue
      scored.push([this.peopleData.get(this.peopleIds[i])?.name ? 0 : 1, p.distanceTo(cam), i])
    }
    scored.sort((x, y) => x[0] - y[0] || x[1] - y[1])
    const chosen = hovered === undefined ? [] : [hovered]
    const w = this.host.clientWidth
    const h = this.host.clientHeight
    const taken: Array<[number, number]> = []
    for (const [, , i] of [[0, 0, hovered ?? -1] as const, ...scored]) {
      if (i < 0) continue
      if (chosen.length >= MAX_PEOPLE_LABELS) break
      const s = this.personPosition(i, a, p).project(this.camera)
      const x = ((s.x + 1) / 2) * w
      const y = ((1 - s.y) / 2) * h
      if (i !== hovered && taken.some(([tx, ty]) => Math.abs(tx - x) < 64 && Math.abs(ty - y) < 18)) continue
      taken.push([x, y])
      if (i !== hovered) chosen.push(i)
    }
    this.peopleLabelled = chosen
    chosen.forEach((i, k) => {
      const obj = this.label(this.peopleLabels, k, 'twin-person')
      const data = this.peopleData.get(this.peopleIds[i])
      obj.element.textContent = data?.name || this.peopleIds[i]
      obj.element.title = data ? `${data.person_id} · ${data.tag_id}` : ''
    })
    for (let k = chosen.length; k < this.peopleLabels.length; k++) this.peopleLabels[k].visible = false
    this.placePeopleLabels(a)
  }

  private placePeopleLabels(a: number): void {
    const p = this.scratch
    this.peopleLabelled.forEach((i, k) => {
      const obj = this.peopleLabels[k]
      if (!obj || i >= this.peopleIds.length) return
      this.personPosition(i, a, p)
      obj.position.set(p.x, p.y + 3.6, p.z)
    })
  }

  /** Texts of the people labels shown now (names, else person ids). */
  personLabels(): string[] {
    return this.peopleLabels.filter((o) => o.visible).map((o) => o.element.textContent ?? '')
  }

  peopleCount(): number {
    return this.peopleIds.length
  }

  person(id: string): PersonMarker | undefined {
    return this.peopleData.get(id)
  }

  // ---- cameras --------------------------------------------------------------------------

  /** A camera icon (glyph 摄) above each camera of the plant, clickable for its latest event. */
  private buildCameras(): void {
    for (const cam of this.cameras) {
      const sprite = new THREE.Sprite(new THREE.SpriteMaterial({ map: this.glyph('摄', CAMERA_COLORS.idle), depthTest: false }))
      sprite.renderOrder = 5
      sprite.center.set(0.5, 0)
      sprite.scale.set(7, 7, 1)
      sprite.position.copy(cam.position).setY(cam.position.y + 0.5)
      sprite.userData = { camera: cam.id }
      sprite.name = `camera-icon-${cam.id}`
      this.cameraSprites.set(cam.id, sprite)
      this.permitGroup.add(sprite)
    }
  }

  /**
   * Zone outlines: the kerbs (0.35 m wide, 48 triangles a zone) when the camera is close
   * enough for them to be a pixel or more wide, else each outline as one-pixel lines -- from
   * the overview a kerb is a fraction of a pixel, so lines show the zone better and cost little.
   */
  private layoutOutlines(): void {
    if (!this.zoneLines) return
    const target = this.controls?.target ?? this.plantBox.getCenter(new THREE.Vector3())
    const px = OUTLINE_KERB_WIDTH / (this.camera.position.distanceTo(target) * this.pixelAngle())
    const kerbs = px >= 1
    for (const mesh of this.zoneKerbs) mesh.visible = kerbs
    this.zoneLines.visible = !kerbs
  }

  /**
   * Camera icons are drawn where they are at least ICON_MIN_PIXELS tall, and always when the
   * camera has an event: hundreds of specks are hundreds of draw calls and show nothing.
   */
  private layoutIcons(): void {
    const cutoff = 1 / (ICON_MIN_PIXELS * this.pixelAngle())
    const cam = this.camera.position
    for (const [id, sprite] of this.cameraSprites) {
      sprite.visible = this.cameraEvents.has(id) || sprite.position.distanceTo(cam) <= sprite.scale.y * cutoff
    }
  }

  /** Mark the cameras with a recent video event (their icon turns orange). */
  setCameraEvents(recent: ReadonlySet<string>): void {
    this.cameraEvents.clear()
    for (const [id, sprite] of this.cameraSprites) {
      const hot = recent.has(id)
      if (hot) this.cameraEvents.add(id)
      const map = this.glyph('摄', hot ? CAMERA_COLORS.event : CAMERA_COLORS.idle)
      if (sprite.material.map === map) continue
      sprite.material.map = map
      sprite.material.needsUpdate = true
    }
    this.layoutIcons()
  }

  /** Colour of a camera icon as '#rrggbb' ('' when there is no such camera). */
  cameraColor(id: string): string {
    if (!this.cameraSprites.has(id)) return ''
    return this.cameraEvents.has(id) ? CAMERA_COLORS.event : CAMERA_COLORS.idle
  }

  cameraIds(): string[] {
    return [...this.cameraSprites.keys()]
  }

  // ---- permits --------------------------------------------------------------------------

  private glyph(text: string, color: string): THREE.CanvasTexture {
    const key = `${text}|${color}`
    let tex = this.glyphTextures.get(key)
    if (tex) return tex
    const canvas = document.createElement('canvas')
    canvas.width = 64
    canvas.height = 64
    const ctx = canvas.getContext('2d')
    if (ctx) {
      ctx.fillStyle = color
      ctx.beginPath()
      ctx.arc(32, 28, 26, 0, Math.PI * 2)
      ctx.fill()
      ctx.beginPath()
      ctx.moveTo(20, 48)
      ctx.lineTo(44, 48)
      ctx.lineTo(32, 63)
      ctx.fill()
      ctx.fillStyle = '#ffffff'
      ctx.font = 'bold 30px sans-serif'
      ctx.textAlign = 'center'
      ctx.textBaseline = 'middle'
      ctx.fillText(text, 32, 29)
    }
    tex = new THREE.CanvasTexture(canvas)
    tex.colorSpace = THREE.SRGBColorSpace
    this.glyphTextures.set(key, tex)
    return tex
  }

  /** Show open permits as icons at their work points (type glyph, colour by status). */
  setPermits(list: readonly PermitMarker[]): void {
    const keep = new Set<string>()
    for (const p of list) {
      keep.add(p.id)
      const color = PERMIT_STATUS_COLOR[p.status] ?? '#2f6fd6'
      const map = this.glyph(permitGlyph(p.work_type), color)
      let sprite = this.permitSprites.get(p.id)
      if (!sprite) {
        sprite = new THREE.Sprite(new THREE.SpriteMaterial({ map, depthTest: false }))
        sprite.renderOrder = 5
        sprite.center.set(0.5, 0)
        sprite.scale.set(6, 6, 1)
        this.permitSprites.set(p.id, sprite)
        this.permitGroup.add(sprite)
      } else {
        sprite.material.map = map
      }
      sprite.userData = { permit: p.id, label: p.label }
      sprite.position.set(p.x, 3, -p.y)
    }
    for (const [id, sprite] of this.permitSprites) {
      if (keep.has(id)) continue
      this.permitGroup.remove(sprite)
      sprite.material.dispose()
      this.permitSprites.delete(id)
    }
  }

  permitIds(): string[] {
    return [...this.permitSprites.keys()]
  }

  // ---- picking --------------------------------------------------------------------------

  private pickAt(clientX: number, clientY: number): Pick | null {
    const rect = this.host.getBoundingClientRect()
    const ndc = new THREE.Vector2(((clientX - rect.left) / rect.width) * 2 - 1, -((clientY - rect.top) / rect.height) * 2 + 1)
    this.raycaster.setFromCamera(ndc, this.camera)
    const icons = [...this.permitSprites.values(), ...this.cameraSprites.values()].filter((s) => s.visible)
    const permits = this.raycaster.intersectObjects(icons, false)
    if (permits[0]) {
      const data = permits[0].object.userData
      if (data.camera !== undefined) return { kind: 'camera', id: String(data.camera) }
      return { kind: 'permit', id: String(data.permit) }
    }
    const targets: THREE.Object3D[] = []
    for (const b of this.batches) if (b.pickable) for (const m of b.levels) if (m && m.visible) targets.push(m)
    // boxes are tested as boxes (a stand-in is its item's footprint, a kerb its box), not triangle by triangle
    const ray = this.raycaster.ray
    let best: [Pick, number] | null = null
    const consider = (pick: Pick, distance: number): void => {
      if (!best || distance < best[1]) best = [pick, distance]
    }
    const at = this.scratch
    for (const b of this.batches) {
      if (!b.pickable) continue
      for (const i of b.slots[STANDIN]) {
        const node = this.equipment.get(b.ids[i])
        if (node && ray.intersectBox(node.footprint, at)) consider({ kind: 'equipment', id: b.ids[i] }, at.distanceTo(ray.origin))
      }
    }
    this.hazardBoxes.forEach((box, kerb) => {
      if (ray.intersectBox(box, at)) consider({ kind: 'hazard', id: this.hazardOfInstance[kerb] }, at.distanceTo(ray.origin))
    })
    const person = this.pickPerson(ray)
    if (person) consider({ kind: 'person', id: this.peopleIds[person[0]] }, person[1])
    for (const hit of this.raycaster.intersectObjects(targets, false)) {
      const pick = this.pickOf(hit)
      if (pick) {
        consider(pick, hit.distance)
        break
      }
    }
    const found = best as [Pick, number] | null
    return found ? found[0] : null
  }

  private pickOf(hit: THREE.Intersection): Pick | null {
    if (hit.instanceId === undefined) return null
    for (const b of this.batches) {
      const level = b.levels.indexOf(hit.object as THREE.InstancedMesh)
      if (level >= 0) return { kind: 'equipment', id: b.ids[b.slots[level][hit.instanceId]] }
    }
    return null
  }

  private readonly onPointerDown = (ev: PointerEvent): void => {
    this.downAt = { x: ev.clientX, y: ev.clientY }
  }

  private readonly onPointerUp = (ev: PointerEvent): void => {
    const down = this.downAt
    this.downAt = null
    if (!down || Math.hypot(ev.clientX - down.x, ev.clientY - down.y) > 4) return // a drag, not a click
    const pick = this.pickAt(ev.clientX, ev.clientY)
    this.select(pick?.kind === 'equipment' ? pick.id : null)
    this.opts.onSelect?.(pick)
  }

  private readonly onPointerMove = (ev: PointerEvent): void => {
    if (ev.buttons) return
    const now = performance.now()
    if (now - this.lastHover < HOVER_THROTTLE_MS) return
    this.lastHover = now
    const pick = this.pickAt(ev.clientX, ev.clientY)
    this.stats.pickMs += (performance.now() - now - this.stats.pickMs) * 0.2
    const rect = this.host.getBoundingClientRect()
    const same = pick?.kind === this.hovered?.kind && pick?.id === this.hovered?.id
    this.hovered = pick
    if (!same) this.lastLabels = 0
    this.host.style.cursor = pick ? 'pointer' : ''
    this.opts.onHover?.(pick, ev.clientX - rect.left, ev.clientY - rect.top)
  }

  private readonly onPointerLeave = (): void => {
    this.hovered = null
    this.host.style.cursor = ''
    this.opts.onHover?.(null, 0, 0)
  }

  // ---- labels (level of detail) -----------------------------------------------------------

  private label(pool: CSS2DObject[], i: number, className: string): CSS2DObject {
    let obj = pool[i]
    if (!obj) {
      const el = document.createElement('div')
      el.className = className
      el.style.willChange = 'transform' // moved by the compositor, its text painted once
      obj = new CSS2DObject(el)
      pool[i] = obj
      this.scene.add(obj)
    }
    obj.visible = true
    return obj
  }

  /**
   * Place the CSS labels, as CSS2DRenderer.render would, but writing a style only where it
   * changed, on whole pixels: its render walks the whole scene and rewrites every label's
   * transform, origin, display and stacking order each frame, and each write makes the page
   * recompute styles; a label that moved less than a pixel, or whose order did not change,
   * now costs no DOM write. Each label is its own compositing layer (will-change), so a move
   * is a re-composite, not a repaint of its text.
   */
  private placeLabelElements(root: HTMLElement): void {
    if (!this.renderer) {
      this.scene.updateMatrixWorld() // the WebGL render does this where there is one
      this.camera.updateMatrixWorld()
    }
    const w = this.host.clientWidth / 2
    const h = this.host.clientHeight / 2
    const vp = this.viewProjection.multiplyMatrices(this.camera.projectionMatrix, this.camera.matrixWorldInverse)
    const cam = this.camera.position
    const shown: Array<[number, HTMLElement]> = []
    const at = this.labelScratch
    for (const pool of [this.equipmentLabels, this.staticLabelPool, this.peopleLabels]) {
      for (const obj of pool) {
        const el = obj.element
        if (el.parentNode !== root) root.appendChild(el)
        let visible = obj.visible && !!obj.parent
        if (visible) {
          at.setFromMatrixPosition(obj.matrixWorld).applyMatrix4(vp)
          visible = at.z >= -1 && at.z <= 1
        }
        const state = this.labelState.get(el) ?? { display: '?', transform: '', z: -1 }
        this.labelState.set(el, state)
        const display = visible ? '' : 'none'
        if (state.display !== display) el.style.display = state.display = display
        if (!visible) continue
        const transform = `translate(-50%,-50%) translate(${Math.round(at.x * w + w)}px,${Math.round(-at.y * h + h)}px)`
        if (state.transform !== transform) el.style.transform = state.transform = transform
        shown.push([obj.getWorldPosition(at).distanceToSquared(cam), el])
      }
    }
    // nearer labels on top, as CSS2DRenderer orders them
    shown.sort((a, b) => a[0] - b[0])
    shown.forEach(([, el], i) => {
      const state = this.labelState.get(el)
      const z = shown.length - i
      if (state && state.z !== z) {
        el.style.zIndex = String(z)
        state.z = z
      }
    })
  }

  /** Give the label pool to the nearest items in view (plus alarmed, selected and hovered ones). */
  private updateLabels(now: number): boolean {
    if (!this.loaded) return false
    const moved = !this.lastCamera.equals(this.camera.matrixWorld)
    const age = now - this.lastLabels
    if (this.lastLabels !== 0 && (age < LABEL_REFRESH_MS || (!moved && age < 1000))) return false
    this.lastLabels = now
    if (moved) {
      for (const batch of this.batches) this.layoutBatch(batch)
      for (const small of this.smalls) this.layoutSmall(small)
      this.layoutIcons()
      this.layoutOutlines()
      this.reshapePeople()
    }
    this.lastCamera.copy(this.camera.matrixWorld)
    const frustum = new THREE.Frustum().setFromProjectionMatrix(
      new THREE.Matrix4().multiplyMatrices(this.camera.projectionMatrix, this.camera.matrixWorldInverse),
    )
    const cam = this.camera.position
    const near = Math.max(60, this.homeDistance * 0.45)
    const must = new Set<string>()
    if (this.selected) must.add(this.selected)
    if (this.hovered?.kind === 'equipment') must.add(this.hovered.id)
    const scored: Array<[number, string]> = []
    for (const [id, node] of this.equipment) {
      if (node.alarm) must.add(id)
      if (!frustum.containsPoint(node.centre)) continue
      const d = node.centre.distanceTo(cam)
      if (d < near) scored.push([d, id])
    }
    scored.sort((a, b) => a[0] - b[0])
    const chosen = [...must]
    for (const [, id] of scored) {
      if (chosen.length >= MAX_EQUIPMENT_LABELS) break
      if (!must.has(id)) chosen.push(id)
    }
    this.labelledIds = chosen
    chosen.forEach((id, i) => {
      const node = this.equipment.get(id)
      if (!node) return
      const obj = this.label(this.equipmentLabels, i, 'twin-label')
      obj.position.set(node.centre.x, node.top + 1.5, node.centre.z)
      obj.element.textContent = id
      obj.element.title = node.extras.name
      obj.element.classList.toggle('alarm', node.alarm)
      obj.element.classList.toggle('selected', id === this.selected)
    })
    for (let i = chosen.length; i < this.equipmentLabels.length; i++) this.equipmentLabels[i].visible = false
    this.updatePeopleLabels(frustum, now)
    // area and zone names: the nearest ones in view that do not cover one another on screen
    const w = this.host.clientWidth
    const h = this.host.clientHeight
    const taken: Array<[number, number]> = []
    const statics: Array<readonly [number, StaticLabel]> = []
    const candidates = this.staticLabels
      .filter((l) => frustum.containsPoint(l.position))
      .map((l) => [l.position.distanceTo(cam), l] as const)
      .sort((a, b) => a[0] - b[0])
    for (const c of candidates) {
      if (statics.length >= MAX_STATIC_LABELS) break
      const p = c[1].position.clone().project(this.camera)
      const x = ((p.x + 1) / 2) * w
      const y = ((1 - p.y) / 2) * h
      if (taken.some(([tx, ty]) => Math.abs(tx - x) < 110 && Math.abs(ty - y) < 24)) continue
      taken.push([x, y])
      statics.push(c)
    }
    statics.forEach(([, l], i) => {
      const obj = this.label(this.staticLabelPool, i, 'twin-place')
      obj.position.copy(l.position)
      obj.element.textContent = l.text
      obj.element.dataset.kind = l.kind
    })
    for (let i = statics.length; i < this.staticLabelPool.length; i++) this.staticLabelPool[i].visible = false
    return true
  }

  /** Equipment ids that carry a label now (the level-of-detail pool). */
  labelled(): string[] {
    return [...this.labelledIds]
  }

  /** Area and zone names shown now. */
  placeLabels(): string[] {
    return this.staticLabelPool.filter((o) => o.visible).map((o) => o.element.textContent ?? '')
  }

  private fit(): void {
    const w = Math.max(1, this.host.clientWidth)
    const h = Math.max(1, this.host.clientHeight)
    this.camera.aspect = w / h
    this.camera.updateProjectionMatrix()
    this.renderer?.setSize(w, h)
    this.labels?.setSize(w, h)
    this.lastLabels = 0
  }

  private readonly animate = (): void => {
    this.frame = requestAnimationFrame(this.animate)
    const now = performance.now()
    if (this.flight && this.controls) {
      const f = this.flight
      const a = Math.min(1, (now - f.t0) / 700)
      const e = a * a * (3 - 2 * a)
      this.camera.position.lerpVectors(f.from, f.to, e)
      this.controls.target.lerpVectors(f.fromTarget, f.toTarget, e)
      if (a >= 1) this.flight = null
    }
    if (this.halo && this.halo.count) this.haloMaterial.opacity = 0.35 + 0.35 * (0.5 + 0.5 * Math.sin(now / 160))
    const peopleMoved = this.updatePeople(now)
    this.controls?.update()
    const labelsChanged = this.updateLabels(now)
    this.standins?.flush(this.camera.position)
    const t1 = performance.now()
    if (this.renderer) this.renderer.render(this.scene, this.camera)
    const t2 = performance.now()
    // CSS labels move only when the camera, the people or the label set moved: no DOM writes otherwise
    const cameraMoved = !this.labelCamera.equals(this.camera.matrixWorld)
    if (this.labels && (cameraMoved || peopleMoved || labelsChanged || this.labelsDirty)) {
      this.placeLabelElements(this.labels.domElement)
      this.labelCamera.copy(this.camera.matrixWorld)
      this.labelsDirty = false
    }
    const t3 = performance.now()
    this.frames++
    const st = this.stats
    const k = 0.1 // exponential average over about ten frames
    st.updateMs += (t1 - now - st.updateMs) * k
    st.renderMs += (t2 - t1 - st.renderMs) * k
    st.labelsMs += (t3 - t2 - st.labelsMs) * k
    if (st.last) st.frameMs += (now - st.last - st.frameMs) * k
    st.last = now
    this.adaptResolution(now)
  }

  /**
   * Dynamic resolution, as game engines do on a slow GPU: when frames come slower than the
   * budget (software WebGL fills every pixel on the CPU), draw fewer pixels -- down to half
   * the CSS size each way, scaled up by the browser -- and draw more again when there is
   * headroom. Fill cost goes with the pixel count (scale squared), so the step is sized from
   * the measured frame rate instead of creeping a quarter at a time. Looked at twice a second.
   */
  private adaptResolution(now: number): void {
    if (!this.renderer) return
    const w = this.fpsWindow
    if (!w.t0) w.t0 = now
    w.frames++
    if (now - w.t0 < DRS_WINDOW_MS || w.frames < 4) return
    const fps = (w.frames * 1000) / (now - w.t0)
    w.t0 = now
    w.frames = 0
    this.stats.fps = fps
    const base = this.software ? 1 : Math.min(window.devicePixelRatio, 2)
    let next = this.scale
    if (fps < DRS_LOW_FPS && this.scale > DRS_MIN_SCALE) {
      next = Math.max(DRS_MIN_SCALE, Math.min(this.scale - 0.05, this.scale * Math.sqrt(fps / DRS_TARGET_FPS)))
    } else if (fps > DRS_HIGH_FPS && this.scale < 1) {
      next = Math.min(1, this.scale + 0.1)
    }
    next = Math.round(next * 100) / 100
    if (next !== this.scale) {
      this.scale = next
      this.renderer.setPixelRatio(base * next)
      // the canvas keeps its CSS size (the view); only its drawing buffer shrinks
      this.renderer.setSize(Math.max(1, this.host.clientWidth), Math.max(1, this.host.clientHeight))
      this.host.dataset.renderScale = String(next)
    }
  }

  /** Where the frame time goes (ms, averaged over about ten frames), for the page and the benchmark. */
  frameStats(): FrameStats {
    const info = this.renderer?.info.render
    const canvas = this.renderer?.domElement
    const st = this.stats
    return {
      fps: Math.round(st.fps * 10) / 10,
      frameMs: Math.round(st.frameMs * 10) / 10,
      updateMs: Math.round(st.updateMs * 100) / 100,
      renderMs: Math.round(st.renderMs * 100) / 100,
      labelsMs: Math.round(st.labelsMs * 100) / 100,
      pickMs: Math.round(st.pickMs * 100) / 100,
      scale: this.scale,
      buffer: canvas ? [canvas.width, canvas.height] : [0, 0],
      calls: info?.calls ?? 0,
      triangles: info?.triangles ?? 0,
      antialias: this.renderer?.getContextAttributes()?.antialias ?? false,
    }
  }

  /** Pixels drawn per CSS pixel (dynamic resolution). */
  get resolutionScale(): number {
    return this.scale
  }

  /** Frames drawn since the page opened (the benchmark reads fps from it). */
  get frameCount(): number {
    return this.frames
  }

  /** Draw calls of the last frame. */
  get drawCalls(): number {
    return this.renderer?.info.render.calls ?? 0
  }

  dispose(): void {
    cancelAnimationFrame(this.frame)
    this.resize.disconnect()
    this.controls?.dispose()
    this.renderer?.dispose()
    this.renderer?.domElement.remove()
    this.labels?.domElement.remove()
    for (const batch of this.batches) {
      for (const m of batch.levels) m?.dispose()
      ;(batch.levels[FINE]?.material as THREE.Material | undefined)?.dispose()
    }
    for (const small of this.smalls) small.mesh.dispose()
    this.standins?.dispose()
    for (const tex of this.glyphTextures.values()) tex.dispose()
    this.people?.dispose()
    this.equipment.clear()
    this.loaded = false
  }

  get selectedId(): string | null {
    return this.selected
  }
}
