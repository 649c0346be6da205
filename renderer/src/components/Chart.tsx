// A line chart in plain SVG: time on x, value on y, with min/max labels and the latest value. Points arrive
// sorted by time; a gap longer than `gapMs` breaks the line so an outage does not look like a ramp.

export interface Point {
  t: number
  v: number
}

const W = 720
const H = 220
const PAD = { left: 52, right: 12, top: 12, bottom: 26 }

export function Chart({
  points,
  from,
  to,
  label,
  gapMs = 0,
}: {
  points: Point[]
  from: number
  to: number
  label: string
  gapMs?: number
}) {
  const values = points.map((p) => p.v)
  let min = Math.min(...values)
  let max = Math.max(...values)
  if (!Number.isFinite(min)) [min, max] = [0, 1]
  if (min === max) [min, max] = [min - 1, max + 1]
  const x = (t: number) => PAD.left + ((t - from) / Math.max(1, to - from)) * (W - PAD.left - PAD.right)
  const y = (v: number) => PAD.top + (1 - (v - min) / (max - min)) * (H - PAD.top - PAD.bottom)
  let d = ''
  let prev: Point | undefined
  for (const p of points) {
    const move = !prev || (gapMs > 0 && p.t - prev.t > gapMs)
    d += `${move ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`
    prev = p
  }
  const last = points.at(-1)
  const ticks = [from, from + (to - from) / 2, to]
  return (
    <svg
      className="chart"
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label={label}
      data-points={points.length}
    >
      <title>{label}</title>
      <rect
        x={PAD.left}
        y={PAD.top}
        width={W - PAD.left - PAD.right}
        height={H - PAD.top - PAD.bottom}
        className="plot"
      />
      <text x={PAD.left - 6} y={PAD.top + 10} className="axis" textAnchor="end">
        {fmt(max)}
      </text>
      <text x={PAD.left - 6} y={H - PAD.bottom} className="axis" textAnchor="end">
        {fmt(min)}
      </text>
      {ticks.map((t, i) => (
        <text
          key={t}
          x={x(t)}
          y={H - 8}
          className="axis"
          textAnchor={i === 0 ? 'start' : i === ticks.length - 1 ? 'end' : 'middle'}
        >
          {new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}
        </text>
      ))}
      <path d={d} className="line" />
      {points.length < 60 &&
        points.map((p) => <circle key={p.t} cx={x(p.t)} cy={y(p.v)} r={2.5} className="dot" />)}
      {last && (
        <text x={W - PAD.right} y={PAD.top + 12} className="latest" textAnchor="end">
          {fmt(last.v)}
        </text>
      )}
    </svg>
  )
}

function fmt(v: number): string {
  return Math.abs(v) >= 1000 || Number.isInteger(v) ? String(Math.round(v * 100) / 100) : v.toPrecision(4)
}
