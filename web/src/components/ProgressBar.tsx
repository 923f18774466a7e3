/** A labelled progress bar (native <progress>: announced by screen readers); no value = busy. */
export function ProgressBar({ value, max = 100, label, text }: { value: number | null; max?: number; label: string; text?: string }) {
  return (
    <div className="progress">
      <progress value={value ?? undefined} max={max} aria-label={label} data-testid="progress" />
      <span className="progress-text">{text ?? (value === null ? "" : `${Math.floor((100 * value) / max)}%`)}</span>
    </div>
  );
}
