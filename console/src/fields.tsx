/** A labelled filter: a select whose change updates the route. */
export function Choice({ label, value, options, onChange }: { label: string; value: string; options: ReadonlyArray<readonly [string, string]>; onChange: (v: string) => void }) {
  return (
    <label>
      {label}
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        {options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}

/** ['', anyLabel] then each value as its own label. */
export function withAny(anyLabel: string, values: readonly string[]): Array<readonly [string, string]> {
  return [['', anyLabel], ...values.map((v) => [v, v] as const)];
}
