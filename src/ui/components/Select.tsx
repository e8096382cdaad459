/** A select over items plus one empty choice ("none", "my own file", "pick a column"). */
export function Select({ id, value, items, empty, emptyDisabled = false, disabled, onChange }: {
  id: string;
  value: string;
  items: readonly { value: string; label: string }[];
  /** Label of the '' choice. */
  empty: string;
  emptyDisabled?: boolean;
  disabled?: boolean;
  onChange: (value: string) => void;
}) {
  return (
    <select id={id} value={value} disabled={disabled} onChange={(e) => onChange(e.target.value)}>
      <option value="" disabled={emptyDisabled}>
        {empty}
      </option>
      {items.map((item) => (
        <option key={item.value} value={item.value}>
          {item.label}
        </option>
      ))}
    </select>
  );
}
