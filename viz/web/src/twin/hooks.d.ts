/** What the browser tests and the render benchmark read from the twin page (declaration merging). */
interface SafeTwinTestHooks {
  /** Current outline colour of a hazard source as '#rrggbb', '' when it has none. */
  hazardColor(id: string): string
  /** Hazard sources outlined on the twin. */
  hazardSources(): string[]
  /** Risk level per hazard source as the page last read it (null: not scored). */
  hazardLevels(): Record<string, string | null>
  /** Screen position (CSS px in the twin canvas) of an equipment item, null when unknown. */
  screenPosition(id: string): { x: number; y: number } | null
  /** Screen rectangle (CSS px in the twin canvas) an equipment item's box covers, null when unknown. */
  screenBox(id: string): { x0: number; y0: number; x1: number; y1: number } | null
  /** How an item is drawn now: full mesh, coarse mesh or far box; null when unknown. */
  drawnAs(id: string): 'fine' | 'coarse' | 'box' | null
  /** Screen positions (CSS px in the twin canvas) of the middle of each kerb outlining a hazard source. */
  hazardOutlinePoints(id: string): Array<{ x: number; y: number }>
  /** Ids of the equipment in the scene. */
  equipmentIds(): string[]
  /** People markers drawn. */
  peopleCount(): number
  /** Open-permit icons drawn (permit ids). */
  permitIds(): string[]
  /** Equipment carrying a label now (level of detail). */
  labelled(): string[]
  /** Area and zone names shown now. */
  placeLabels(): string[]
  /** Frames drawn since the page opened. */
  frameCount(): number
  /** Draw calls of the last frame. */
  drawCalls(): number
  /** Where the frame time goes, the dynamic-resolution scale and the drawing-buffer size. */
  frameStats(): import('./viewer').FrameStats | null
  /** Replace the people markers (benchmarks drive 500 moving people through this). */
  setPeople(list: Array<{ person_id: string; tag_id: string; x: number; y: number; z?: number }>): void
  /** Camera presets: area ids with names. */
  areas(): Array<{ id: string; name: string }>
  /** Whether WebGL is drawn in software. */
  readonly software: boolean
  /** ms from navigation start until the scene was in the page. */
  readonly loadedAt: number | null
  /** Camera icons on the twin (camera ids). */
  cameraIds(): string[]
  /** Colour of a camera icon ('#rrggbb'): orange with an event in the last minutes. */
  cameraColor(id: string): string
  /** Texts of the name labels on people markers shown now. */
  personLabels(): string[]
  /** Points of a tag's sparkline in the equipment panel (0 when none). */
  sparkPoints(tag: string): number
  /** The time scrubber: live or replay, its window and the instant shown. */
  replayState(): {
    mode: 'live' | 'replay'
    start: number | null
    end: number | null
    at: number | null
    alarmed: string[]
    /** People markers from the stored positions at the instant (null: live, or no positions to show). */
    people: number | null
    /** People with an alarm at the instant. */
    peopleAlarmed: string[]
    /** Alarms of other source kinds at the instant, as 'kind:source_id'. */
    sourceAlarms: string[]
  }
  /** A person marker: where it is going (plant x, y) and its colour ('#rrggbb'); null when not drawn. */
  person(id: string): { x: number; y: number; color: string } | null
  /** Move the scrubber to an instant (epoch ms) of the loaded window. */
  replaySeek(ms: number): void
}
