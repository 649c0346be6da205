import type { Database } from 'better-sqlite3'
import { ApplicationsRepo } from './repos/applications.ts'
import { CallbacksRepo } from './repos/callbacks.ts'
import { CamerasRepo } from './repos/cameras.ts'
import { CommandsRepo } from './repos/commands.ts'
import { DevicesRepo } from './repos/devices.ts'
import { GroupsRepo } from './repos/groups.ts'
import { OutboxRepo } from './repos/outbox.ts'
import { ProductsRepo } from './repos/products.ts'
import { ShadowsRepo } from './repos/shadows.ts'
import { SubscriptionsRepo } from './repos/subscriptions.ts'
import { TasksRepo } from './repos/tasks.ts'
import { TelemetryRepo } from './repos/telemetry.ts'

/** The database and one repository per aggregate. */
export interface Store {
  db: Database
  applications: ApplicationsRepo
  devices: DevicesRepo
  shadows: ShadowsRepo
  telemetry: TelemetryRepo
  outbox: OutboxRepo
  commands: CommandsRepo
  callbacks: CallbacksRepo
  tasks: TasksRepo
  subscriptions: SubscriptionsRepo
  groups: GroupsRepo
  products: ProductsRepo
  /** Camera snapshot index and firmware packages (migration 008). */
  cameras: CamerasRepo
  /** Runs fn in one transaction (nested calls join the outer one). */
  transaction<T>(fn: () => T): T
}

export function createStore(db: Database): Store {
  return {
    db,
    applications: new ApplicationsRepo(db),
    devices: new DevicesRepo(db),
    shadows: new ShadowsRepo(db),
    telemetry: new TelemetryRepo(db),
    outbox: new OutboxRepo(db),
    commands: new CommandsRepo(db),
    callbacks: new CallbacksRepo(db),
    tasks: new TasksRepo(db),
    subscriptions: new SubscriptionsRepo(db),
    groups: new GroupsRepo(db),
    products: new ProductsRepo(db),
    cameras: new CamerasRepo(db),
    // BEGIN IMMEDIATE: every caller writes, and a deferred transaction that reads first cannot wait for the other
    // connection's write lock when it upgrades (SQLite answers SQLITE_BUSY at once, busy_timeout unused).
    transaction: <T>(fn: () => T): T => db.transaction(fn).immediate(),
  }
}
