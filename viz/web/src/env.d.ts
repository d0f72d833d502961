/// <reference types="vite/client" />

/** What the browser tests read instead of sampling pixels. */
interface SafeTwinTestHooks {
  /** Current colour of an equipment node as '#rrggbb' (sRGB), '' when the node is unknown. */
  equipmentColor(id: string): string
  /** True once the plant GLB is in the three.js scene. */
  readonly loaded: boolean
  /** Equipment ids currently shown in alarm. */
  alarmedEquipment(): string[]
  /** Whether a WebGL renderer is drawing (false on machines without WebGL). */
  readonly webgl: boolean
}

interface Window {
  __safetwin?: SafeTwinTestHooks
}
