import type { ConnectionInfo } from '../core/api/index.ts';

/**
 * Every spelling of the connection's secrets that could end up in a log: the raw password,
 * its URL-encoded form, the form actually inside the URI, and the URI itself.
 */
export function connectionSecrets(conn: Pick<ConnectionInfo, 'password' | 'uri'>): string[] {
  const forms = new Set<string>();
  if (conn.password) {
    forms.add(conn.password);
    forms.add(encodeURIComponent(conn.password));
  }
  if (conn.uri) {
    forms.add(conn.uri);
    try {
      const inUri = new URL(conn.uri).password;
      if (inUri) {
        forms.add(inUri);
        forms.add(decodeURIComponent(inUri));
      }
    } catch {
      // Not a URL-shaped URI (keyword/value form): the raw forms above still cover it.
    }
  }
  return [...forms].filter((s) => s.length > 0);
}

/** Replaces known secrets in a message; a last line of defence for error messages. */
export function stripSecrets(message: string, secrets: Iterable<string>): string {
  let out = message;
  // Longest first so a URI is replaced whole before the password inside it.
  for (const secret of [...secrets].filter((x) => x.length >= 4).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join('***');
  }
  return out;
}
