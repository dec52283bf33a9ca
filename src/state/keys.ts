/**
 * Redis key layout of one application. Every key starts with
 * `cdcv:<applicationId>:` so an application's state can be listed, cloned or
 * dropped by prefix.
 *
 * | key                                   | type   | content                                   |
 * | ------------------------------------- | ------ | ----------------------------------------- |
 * | `cdcv:<app>:t:<schema.table>`         | hash   | key string → `<version>\n<row JSON>`      |
 * | `cdcv:<app>:dirty:<schema.table>`     | hash   | key string → version not yet rendered     |
 * | `cdcv:<app>:positions`                | hash   | `<topic>:<partition>` → next offset       |
 * | `cdcv:<app>:epochs`                   | hash   | `<topic>:<partition>` → owner epoch       |
 * | `cdcv:<app>:stats`                    | hash   | counters: `applied:<table>`, `dlq`, …     |
 * | `cdcv:<app>:seq:<view>`               | string | the view's render sequence counter        |
 * | `cdcv:<app>:v:<view>:dirty`           | hash   | view root → counter, not yet rendered     |
 * | `cdcv:<app>:v:<view>:fk:<op>`         | hash   | view root → joined key it read (join op)  |
 * | `cdcv:<app>:v:<view>:rev:<op>:<key>`  | set    | view roots that read joined key `<key>`   |
 * | `cdcv:<app>:v:<view>:par:<op>`        | hash   | child/member key → its root (roll-up, group) |
 * | `cdcv:<app>:v:<view>:mem:<op>:<root>` | set    | child/member keys of a root               |
 */
export class StateKeys {
  readonly prefix: string;

  constructor(readonly applicationId: string) {
    this.prefix = `cdcv:${applicationId}:`;
  }

  table(table: string): string {
    return `${this.prefix}t:${table}`;
  }
  dirty(table: string): string {
    return `${this.prefix}dirty:${table}`;
  }
  get positions(): string {
    return `${this.prefix}positions`;
  }
  get epochs(): string {
    return `${this.prefix}epochs`;
  }
  get stats(): string {
    return `${this.prefix}stats`;
  }
  seq(view: string): string {
    return `${this.prefix}seq:${view}`;
  }
  /** Prefix of all keys of views: `cdcv:<app>:v:`. */
  get viewPrefix(): string {
    return `${this.prefix}v:`;
  }
  viewDirty(view: string): string {
    return `${this.prefix}v:${view}:dirty`;
  }
  /** The field naming one partition in the positions and epochs hashes. */
  static partitionField(topic: string, partition: number): string {
    return `${topic}:${partition}`;
  }
}
