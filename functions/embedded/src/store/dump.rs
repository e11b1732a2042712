//! Every item the store holds, as text: what an erasure check reads (every table, whatever it
//! indexes), not what the port chooses to show.

use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

use super::{EmbeddedStore, storage};
use billing_core::ports::store::StoreError;

impl EmbeddedStore {
    /// Every key and value of every table, one `table/key = value` line each (values as
    /// lossy UTF-8), for tests that prove what is and is not stored.
    pub fn dump(&self) -> Result<Vec<String>, StoreError> {
        let read = self.db.begin_read().map_err(storage)?;
        let mut lines = Vec::new();
        for handle in read.list_tables().map_err(storage)? {
            let name = handle.name().to_owned();
            let bytes: TableDefinition<&str, &[u8]> = TableDefinition::new(&name);
            if let Ok(table) = read.open_table(bytes) {
                for item in table.iter().map_err(storage)? {
                    let (key, value) = item.map_err(storage)?;
                    let value = String::from_utf8_lossy(value.value());
                    lines.push(format!("{name}/{} = {value}", key.value()));
                }
                continue;
            }
            let text: TableDefinition<&str, &str> = TableDefinition::new(&name);
            let table = read.open_table(text).map_err(storage)?;
            for item in table.iter().map_err(storage)? {
                let (key, value) = item.map_err(storage)?;
                lines.push(format!("{name}/{} = {}", key.value(), value.value()));
            }
        }
        Ok(lines)
    }
}
