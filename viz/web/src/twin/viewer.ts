import * as THREE from 'three'
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js'
import { OrbitControls } from 'three/addons/controls/OrbitControls.js'
import { CSS2DObject, CSS2DRenderer } from 'three/addons/renderers/CSS2DRenderer.js'

/** Colour of equipment with an active alarm. */
export const ALARM_COLOR = '#ff3030'

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

interface EquipmentNode {
  mesh: THREE.Mesh
  material: THREE.MeshStandardMaterial
  normalColor: string
  extras: EquipmentExtras
  label: CSS2DObject | null
  alarm: boolean
}

export interface ViewerOptions {
  /** Called when the user clicks a piece of equipment (null: clicked empty space). */
  onSelect?: (id: string | null) => void
}

function hex(color: THREE.Color): string {
  return `#${color.getHexString()}`
}

function isEquipment(data: unknown): data is EquipmentExtras {
  return typeof data === 'object' && data !== null && (data as { asset_id?: unknown }).asset_id !== undefined
}

/**
 * The three.js twin: loads the plant GLB, colours equipment by alarm state and picks
 * equipment under the mouse. The scene graph works without WebGL (no renderer), so the
 * alarm colouring stays testable on machines without a GPU.
 */
export class TwinViewer {
  readonly scene = new THREE.Scene()
  readonly camera = new THREE.PerspectiveCamera(45, 1, 0.5, 3000)
  private renderer: THREE.WebGLRenderer | null = null
  private labels: CSS2DRenderer | null = null
  private controls: OrbitControls | null = null
  private readonly equipment = new Map<string, EquipmentNode>()
  private readonly resize = new ResizeObserver(() => this.fit())
  private readonly raycaster = new THREE.Raycaster()
  private frame = 0
  private selected: string | null = null
  private downAt: { x: number; y: number } | null = null
  loaded = false
  webgl = false
  plantUserData: Record<string, unknown> = {}

  constructor(
    private readonly host: HTMLElement,
    private readonly opts: ViewerOptions = {},
  ) {
    this.scene.background = new THREE.Color('#dce6ee')
    this.scene.fog = new THREE.Fog('#dce6ee', 450, 1200)
    this.scene.add(new THREE.HemisphereLight('#ffffff', '#6b7560', 1.6))
    const sun = new THREE.DirectionalLight('#ffffff', 2.2)
    sun.position.set(-120, 220, 140)
    this.scene.add(sun)
    this.camera.position.set(120, 170, 120)
    try {
      this.renderer = new THREE.WebGLRenderer({ antialias: true })
      this.renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2))
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
    this.controls.minDistance = 10
    this.controls.maxDistance = 900
    target.addEventListener('pointerdown', this.onPointerDown)
    target.addEventListener('pointerup', this.onPointerUp)
    this.resize.observe(host)
    this.fit()
    this.animate()
  }

  /** Load the plant GLB (with the bearer token) and put it in the scene. */
  async load(url: string, headers: Record<string, string>): Promise<void> {
    const loader = new GLTFLoader()
    loader.setRequestHeader(headers)
    const gltf = await loader.loadAsync(url)
    const root = gltf.scene
    this.plantUserData = root.userData as Record<string, unknown>
    root.traverse((obj) => {
      const mesh = obj as THREE.Mesh
      if (!mesh.isMesh) return
      const source = mesh.material as THREE.MeshStandardMaterial
      if (source.transparent) source.depthWrite = false
      if (!isEquipment(mesh.userData)) return
      // GLTFLoader shares materials between nodes: give every equipment its own.
      const material = source.clone()
      const extras = mesh.userData
      if (extras.color) material.color.set(extras.color)
      material.emissive.set('#000000')
      mesh.material = material
      const node: EquipmentNode = {
        mesh,
        material,
        normalColor: hex(material.color),
        extras,
        label: null,
        alarm: false,
      }
      this.equipment.set(extras.asset_id, node)
    })
    this.scene.add(root)
    root.updateMatrixWorld(true)
    for (const node of this.equipment.values()) node.label = this.addLabel(node)
    this.frameAll(root)
    this.loaded = true
  }

  private addLabel(node: EquipmentNode): CSS2DObject {
    const el = document.createElement('div')
    el.className = 'twin-label'
    el.textContent = node.extras.asset_id
    el.title = node.extras.name
    const label = new CSS2DObject(el)
    const box = new THREE.Box3().setFromObject(node.mesh)
    node.mesh.worldToLocal(label.position.set((box.min.x + box.max.x) / 2, box.max.y + 1.5, (box.min.z + box.max.z) / 2))
    node.mesh.add(label)
    return label
  }

  /** Look at the whole plant from the south, high enough to see every area. */
  private frameAll(root: THREE.Object3D): void {
    const box = new THREE.Box3().setFromObject(root)
    const centre = box.getCenter(new THREE.Vector3())
    const size = box.getSize(new THREE.Vector3())
    const vfov = THREE.MathUtils.degToRad(this.camera.fov)
    const hfov = 2 * Math.atan(Math.tan(vfov / 2) * this.camera.aspect)
    const elevation = THREE.MathUtils.degToRad(48)
    // width must fit the horizontal field of view, the foreshortened depth the vertical one
    const fitWidth = size.x / 2 / Math.tan(hfov / 2)
    const fitDepth = (size.z * Math.sin(elevation)) / 2 / Math.tan(vfov / 2)
    const distance = Math.max(fitWidth, fitDepth) * 1.3
    const dir = new THREE.Vector3(0, Math.sin(elevation), Math.cos(elevation))
    centre.z += size.z * 0.06 // the near edge looks larger: aim a little south to centre the plant
    this.camera.position.copy(centre).addScaledVector(dir, distance)
    this.camera.far = distance * 10
    this.camera.updateProjectionMatrix()
    this.controls?.target.copy(centre)
    this.controls?.update()
  }

  /** Ids of the equipment in the GLB. */
  equipmentIds(): string[] {
    return [...this.equipment.keys()]
  }

  /** Current colour of an equipment node as '#rrggbb' (sRGB), or '' when unknown. */
  equipmentColor(id: string): string {
    const node = this.equipment.get(id)
    return node ? hex(node.material.color) : ''
  }

  /** Colour equipment: those in `alarmed` turn ALARM_COLOR (pulsing), the rest their own colour. */
  setAlarmed(alarmed: ReadonlySet<string>): void {
    for (const [id, node] of this.equipment) {
      const alarm = alarmed.has(id)
      if (alarm === node.alarm) continue
      node.alarm = alarm
      node.material.color.set(alarm ? ALARM_COLOR : node.normalColor)
      node.material.emissive.set(alarm ? ALARM_COLOR : '#000000')
      node.material.emissiveIntensity = alarm ? 0.35 : 1
      node.label?.element.classList.toggle('alarm', alarm)
    }
  }

  select(id: string | null): void {
    this.selected = id
    for (const [eid, node] of this.equipment) node.label?.element.classList.toggle('selected', eid === id)
  }

  private readonly onPointerDown = (ev: PointerEvent): void => {
    this.downAt = { x: ev.clientX, y: ev.clientY }
  }

  private readonly onPointerUp = (ev: PointerEvent): void => {
    const down = this.downAt
    this.downAt = null
    if (!down || Math.hypot(ev.clientX - down.x, ev.clientY - down.y) > 4) return // a drag, not a click
    const rect = this.host.getBoundingClientRect()
    const ndc = new THREE.Vector2(
      ((ev.clientX - rect.left) / rect.width) * 2 - 1,
      -((ev.clientY - rect.top) / rect.height) * 2 + 1,
    )
    this.raycaster.setFromCamera(ndc, this.camera)
    const meshes = [...this.equipment.values()].map((n) => n.mesh)
    const hit = this.raycaster.intersectObjects(meshes, false)[0]
    const id = hit ? (hit.object.userData as EquipmentExtras).asset_id : null
    this.select(id)
    this.opts.onSelect?.(id)
  }

  private fit(): void {
    const w = Math.max(1, this.host.clientWidth)
    const h = Math.max(1, this.host.clientHeight)
    this.camera.aspect = w / h
    this.camera.updateProjectionMatrix()
    this.renderer?.setSize(w, h)
    this.labels?.setSize(w, h)
  }

  private readonly animate = (): void => {
    this.frame = requestAnimationFrame(this.animate)
    const t = performance.now() / 1000
    // a slight pulse: the glow breathes, the base colour stays ALARM_COLOR
    const glow = 0.2 + 0.25 * (0.5 + 0.5 * Math.sin(t * 5))
    for (const node of this.equipment.values()) if (node.alarm) node.material.emissiveIntensity = glow
    this.controls?.update()
    if (this.renderer) this.renderer.render(this.scene, this.camera)
    this.labels?.render(this.scene, this.camera)
  }

  dispose(): void {
    cancelAnimationFrame(this.frame)
    this.resize.disconnect()
    this.controls?.dispose()
    this.renderer?.dispose()
    this.renderer?.domElement.remove()
    this.labels?.domElement.remove()
    for (const node of this.equipment.values()) node.material.dispose()
    this.equipment.clear()
    this.loaded = false
  }

  get selectedId(): string | null {
    return this.selected
  }
}
