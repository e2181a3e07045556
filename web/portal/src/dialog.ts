// Keyboard behaviour of the portal's small dialogs (confirmations): focus goes into the
// dialog, Tab stays inside it, Esc closes it, and focus returns to where it was.
import { useLayoutEffect, useRef } from 'preact/hooks';

export function useDialog<T extends HTMLElement>(onClose: () => void) {
  const ref = useRef<T>(null);
  const close = useRef(onClose);
  close.current = onClose;
  // A layout effect: Esc works from the moment the dialog shows, not a frame later.
  useLayoutEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const focusable = () => [...(ref.current?.querySelectorAll<HTMLElement>('button, [href], input, select, textarea') ?? [])];
    focusable()[0]?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        close.current();
      } else if (e.key === 'Tab') {
        const all = focusable();
        if (all.length === 0) return;
        const at = all.indexOf(document.activeElement as HTMLElement);
        const next = e.shiftKey ? (at <= 0 ? all.length - 1 : at - 1) : (at + 1) % all.length;
        e.preventDefault();
        all[next].focus();
      }
    };
    addEventListener('keydown', onKey);
    return () => {
      removeEventListener('keydown', onKey);
      if (before?.isConnected) before.focus();
    };
  }, []);
  return ref;
}
