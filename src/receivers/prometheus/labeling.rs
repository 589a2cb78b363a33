//! Labels of scraped samples: the target's labels attached as Prometheus
//! does, then `metric_relabel_configs`.

use std::collections::BTreeMap;

use super::parser::Family;
use super::relabel::{self, RelabelConfig};
use super::target::Target;

/// What a scrape config says about how samples are labeled.
pub struct LabelRules<'a> {
    pub honor_labels: bool,
    pub metric_relabel: &'a [RelabelConfig],
    pub external_labels: &'a BTreeMap<String, String>,
}

/// Attaches target labels to every sample (`exported_` prefixes on conflicts
/// unless `honor_labels`) and applies `metric_relabel_configs`. Returns the
/// number of samples left.
pub fn label_samples(families: &mut Vec<Family>, target: &Target, rules: &LabelRules) -> usize {
    let mut left = 0;
    for fam in families.iter_mut() {
        fam.samples.retain_mut(|s| {
            s.labels.retain(|(_, v)| !v.is_empty());
            for (k, v) in &target.labels {
                match s.labels.iter().position(|(n, _)| n == k) {
                    Some(_) if rules.honor_labels => {}
                    Some(i) => {
                        let mut name = format!("exported_{k}");
                        while s.labels.iter().any(|(n, _)| *n == name) {
                            name = format!("exported_{name}");
                        }
                        s.labels[i].0 = name;
                        s.labels.push((k.clone(), v.clone()));
                    }
                    None => s.labels.push((k.clone(), v.clone())),
                }
            }
            for (k, v) in rules.external_labels {
                if !s.labels.iter().any(|(n, _)| n == k) {
                    s.labels.push((k.clone(), v.clone()));
                }
            }
            if rules.metric_relabel.is_empty() {
                return true;
            }
            s.labels.push(("__name__".into(), std::mem::take(&mut s.name)));
            if !relabel::apply(rules.metric_relabel, &mut s.labels) {
                return false;
            }
            match s.labels.iter().position(|(k, _)| k == "__name__") {
                Some(i) => {
                    s.name = s.labels.swap_remove(i).1;
                    true
                }
                None => false, // relabeling removed the name: nothing to call it
            }
        });
        left += fam.samples.len();
    }
    families.retain(|f| !f.samples.is_empty());
    left
}
