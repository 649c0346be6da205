import { join } from 'node:path'

/** Where things live in the data directory. */
export const dataPaths = (dataDir: string) => ({
  database: join(dataDir, 'sitegate.db'),
  broker: join(dataDir, 'broker'),
  firstApp: join(dataDir, 'first-app.json'),
})
