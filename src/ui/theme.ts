/**
 * Light/dark: the OS setting unless the user picks one (kept in localStorage). The choice is applied as
 * <html data-theme>, which the stylesheet's light-dark() colours follow; SVG charts read the matching
 * palette here (SVG attributes cannot read CSS variables reliably).
 */
import { useSyncExternalStore } from 'react';

export type ThemeChoice = 'system' | 'light' | 'dark';
export const THEME_CHOICES: readonly ThemeChoice[] = ['system', 'light', 'dark'];

const STORAGE_KEY = 'theme';
const query = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : null;
const listeners = new Set<() => void>();

function readChoice(): ThemeChoice {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    return THEME_CHOICES.includes(stored as ThemeChoice) ? (stored as ThemeChoice) : 'system';
  } catch {
    return 'system';
  }
}

let choice: ThemeChoice = typeof localStorage === 'undefined' ? 'system' : readChoice();

function apply(): void {
  if (typeof document === 'undefined') return;
  if (choice === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = choice;
}
apply();
query?.addEventListener('change', () => listeners.forEach((l) => l()));

export function setThemeChoice(next: ThemeChoice): void {
  choice = next;
  try {
    if (next === 'system') localStorage.removeItem(STORAGE_KEY);
    else localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
  apply();
  listeners.forEach((l) => l());
}

function subscribe(onChange: () => void): () => void {
  listeners.add(onChange);
  return () => listeners.delete(onChange);
}

export function useThemeChoice(): ThemeChoice {
  return useSyncExternalStore(subscribe, () => choice);
}

export function useIsDark(): boolean {
  return useSyncExternalStore(subscribe, () => (choice === 'system' ? (query?.matches ?? false) : choice === 'dark'));
}

export interface ChartTheme {
  text: string;
  grid: string;
  primary: string;
  secondary: string;
  overlay: string;
  series: string[];
}

// Okabe-Ito based categorical colours, tuned per theme for contrast against the panel background.
const LIGHT: ChartTheme = {
  text: '#374151',
  grid: '#e5e7eb',
  primary: '#2563eb',
  secondary: '#d97706',
  overlay: '#9333ea',
  series: ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#7a5c00', '#000000'],
};
const DARK: ChartTheme = {
  text: '#d1d5db',
  grid: '#374151',
  primary: '#60a5fa',
  secondary: '#fbbf24',
  overlay: '#c084fc',
  series: ['#56b4e9', '#ff8c42', '#2ed3a0', '#f0a3d0', '#ffc94d', '#9ad5ff', '#e0c060', '#f5f5f5'],
};

export function useChartTheme(): ChartTheme {
  return useIsDark() ? DARK : LIGHT;
}
