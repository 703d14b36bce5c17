/**
 * Node-RED settings for the HueWatch flows, used by the Node-RED container (mounted as
 * /data/settings.js by docker-compose.yml) and, with the editor switched off, by flows/run.ts.
 *
 * - flowFile from FLOWS (the committed flows, mounted read-only); credentials unencrypted on purpose:
 *   flows_cred.json holds only `${VAR}` references, never a secret (flows/README.md).
 * - A `file` context store: the alert flow remembers which `id:eventSeq` it has sent across restarts,
 *   so alerts in force are not sent again when Node-RED restarts, and ones it missed are sent once.
 * - The editor only with a login: NODERED_ADMIN_PASSWORD_HASH (bcrypt, `npx node-red admin
 *   hash-pw`) turns it on for NODERED_ADMIN_USER (default admin); without it there is no editor.
 */
const editor = Boolean(process.env.NODERED_ADMIN_PASSWORD_HASH);

module.exports = {
  flowFile: process.env.FLOWS || 'flows.json',
  flowFilePretty: true,
  credentialSecret: false,
  uiPort: Number(process.env.PORT) || 1880,
  httpAdminRoot: editor ? '/' : false,
  ...(editor
    ? {
        adminAuth: {
          type: 'credentials',
          users: [{ username: process.env.NODERED_ADMIN_USER || 'admin', password: process.env.NODERED_ADMIN_PASSWORD_HASH, permissions: '*' }],
        },
      }
    : {}),
  contextStorage: {
    default: { module: 'memory' },
    file: { module: 'localfilesystem' },
  },
  externalModules: { autoInstall: false, palette: { allowInstall: false } },
  diagnostics: { enabled: false },
  runtimeState: { enabled: false },
  logging: { console: { level: 'info', metrics: false, audit: false } },
};
