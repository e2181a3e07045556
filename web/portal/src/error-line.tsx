import { t } from './i18n';

// What the hub or the API refused, said in place: announced to screen readers, dismissed
// by its own button (not by clicking the text).
export function ErrorLine({ text, onDismiss, testId }: { text: string; onDismiss?: () => void; testId?: string }) {
  return (
    <p class="error" role="alert" data-testid={testId}>
      {text}
      {onDismiss && (
        <button type="button" class="link" aria-label={t('common.dismiss')} onClick={onDismiss}>
          ✕
        </button>
      )}
    </p>
  );
}
