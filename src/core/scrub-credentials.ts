/** Blanks secrets out of text bound for logs, error messages and PR comments (agent and action alike). */

export const REDACTED = '***';

// password=... in libpq key/value strings and query strings (also PGPASSWORD=...), up to a separator.
const PASSWORD_PARAM = /(password\s*=\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s&;'"]+)/gi;
// JSON "password": "..."
const PASSWORD_JSON = /("password"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;
// scheme://user:pass@host -> scheme://user:***@host
const URI_USERINFO = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]*@/gi;
// Authorization: Bearer <token>
const BEARER = /(bearer\s+)[A-Za-z0-9._~+/=-]+/gi;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Blanks the known `secrets` (also URL-encoded) and anything shaped like a password or bearer token. */
export function scrubCredentials(text: string, secrets: Iterable<string> = []): string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (!secret) continue;
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
  }
  let out = text;
  if (forms.size > 0) {
    // Longest first, so a secret containing another is blanked whole.
    const alternatives = [...forms].sort((a, b) => b.length - a.length).map(escapeRegExp);
    out = out.replace(new RegExp(alternatives.join('|'), 'g'), REDACTED);
  }
  return out
    .replace(PASSWORD_JSON, `$1"${REDACTED}"`)
    .replace(PASSWORD_PARAM, `$1${REDACTED}`)
    .replace(URI_USERINFO, `$1${REDACTED}@`)
    .replace(BEARER, `$1${REDACTED}`);
}
