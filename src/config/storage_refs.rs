//! `sending_queue.storage` names an extension: checked with the rest of
//! the config, so a typo is reported by `validate`, not at start.

use super::yaml::Value;

/// `(path, extension id)` of every exporter's `sending_queue.storage`.
pub fn storage_refs(exporters: Option<&Value>) -> Vec<(String, String)> {
    let Some(Value::Mapping(m)) = exporters else { return Vec::new() };
    m.iter()
        .filter_map(|(id, cfg)| {
            let name = cfg.get("sending_queue")?.get("storage")?.as_str()?;
            Some((format!("exporters::{}::sending_queue::storage", id.as_str()?), name.to_string()))
        })
        .collect()
}
