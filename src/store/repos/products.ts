import type { Database } from 'better-sqlite3'

export interface ProductRow {
  product_id: string
  definition: string
  source: 'file' | 'admin'
  created_at: number
  modified_at: number
}

/** Product models (migration 006). */
export class ProductsRepo {
  private readonly stmts

  constructor(db: Database) {
    this.stmts = {
      upsert: db.prepare(`INSERT INTO products (product_id, definition, source, created_at, modified_at)
        VALUES (@product_id, @definition, @source, @at, @at)
        ON CONFLICT(product_id) DO UPDATE SET definition = excluded.definition, source = excluded.source,
        modified_at = excluded.modified_at`),
      get: db.prepare('SELECT * FROM products WHERE product_id = ?'),
      all: db.prepare('SELECT * FROM products ORDER BY product_id'),
      delete: db.prepare('DELETE FROM products WHERE product_id = ?'),
      inUse: db.prepare('SELECT count(*) FROM devices WHERE product_id = ?').pluck(),
    }
  }

  upsert(productId: string, definition: string, source: ProductRow['source'], at: number): void {
    this.stmts.upsert.run({ product_id: productId, definition, source, at })
  }

  get(productId: string): ProductRow | undefined {
    return this.stmts.get.get(productId) as ProductRow | undefined
  }

  all(): ProductRow[] {
    return this.stmts.all.all() as ProductRow[]
  }

  delete(productId: string): void {
    this.stmts.delete.run(productId)
  }

  /** Devices registered with the product. */
  devicesUsing(productId: string): number {
    return this.stmts.inUse.get(productId) as number
  }
}
