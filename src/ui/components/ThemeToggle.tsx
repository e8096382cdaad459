import { setThemeChoice, THEME_CHOICES, useThemeChoice, type ThemeChoice } from '../theme';

const LABELS: Record<ThemeChoice, string> = { system: 'System', light: 'Light', dark: 'Dark' };

/** Light / dark / follow the OS; the choice is kept in this browser. */
export function ThemeToggle() {
  const choice = useThemeChoice();
  return (
    <div className="segmented theme-toggle" role="radiogroup" aria-label="Theme">
      {THEME_CHOICES.map((c) => (
        <button key={c} type="button" role="radio" aria-checked={choice === c} className={choice === c ? 'active' : ''} onClick={() => setThemeChoice(c)} data-testid={`theme-${c}`}>
          {LABELS[c]}
        </button>
      ))}
    </div>
  );
}
