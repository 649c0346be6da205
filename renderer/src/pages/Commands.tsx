import { LoadState } from '../components/common.tsx'
import { useLive, useLoad, useSession, useT } from '../context.tsx'
import type { Command } from '../types.ts'
import { CommandTable, upsertCommand } from './CommandTable.tsx'

/** The command ledger (§8.2): the application's latest commands, live. */
export function Commands() {
  const t = useT()
  const { api } = useSession()
  const list = useLoad(
    async () =>
      (await api.call<{ data: Command[] }>('GET', '/iocm/app/cmd/v1.4.0/deviceCommands?pageSize=200')).data,
    'ledger',
  )
  useLive<{ command: Command; origin: string }>('command.status', ({ command, origin }) => {
    if (origin === 'ledger') list.set((old) => upsertCommand(old, command))
  })
  return (
    <div className="page">
      <h1>{t('ledger')}</h1>
      <LoadState loading={list.loading && !list.data} error={list.error} />
      {list.data && (
        <CommandTable
          commands={list.data}
          showDevice
          onChanged={(c) => list.set((old) => upsertCommand(old, c))}
        />
      )}
    </div>
  )
}
