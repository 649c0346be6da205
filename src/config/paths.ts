import { join } from 'node:path'

/** Where things live in the data directory. */
export const dataPaths = (dataDir: string) => ({
  database: join(dataDir, 'sitegate.db'),
  broker: join(dataDir, 'broker'),
  firstApp: join(dataDir, 'first-app.json'),
  // The self-signed certificate made on first start when tls.cert/tls.key are not configured.
  tls: join(dataDir, 'tls'),
  tlsCert: join(dataDir, 'tls', 'cert.pem'),
  tlsKey: join(dataDir, 'tls', 'key.pem'),
})
