//! Scrape targets: static targets run through `relabel_configs`, as
//! Prometheus turns its discovered targets into scrape URLs and labels.

use super::config::ScrapeConfig;
use super::parser::Labels;
use super::relabel;

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub url: String,
    /// Labels every series of this target carries, `job` and `instance` included.
    pub labels: Labels,
    pub job: String,
    pub instance: String,
    pub scheme: String,
    pub address: String,
}

impl Target {
    fn label(&self, name: &str) -> &str {
        self.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }
}

fn get<'a>(l: &'a Labels, name: &str) -> Option<&'a str> {
    l.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn fmt_duration(d: Option<std::time::Duration>) -> String {
    let d = d.unwrap_or_default();
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The targets of one scrape config; targets that relabeling drops are left out.
pub fn targets(sc: &ScrapeConfig) -> Vec<Target> {
    let mut out = Vec::new();
    for group in &sc.static_configs {
        for addr in &group.targets {
            let mut labels: Labels = vec![
                ("__address__".into(), addr.clone()),
                ("__scheme__".into(), sc.scheme.clone()),
                ("__metrics_path__".into(), sc.metrics_path.clone()),
                ("__scrape_interval__".into(), fmt_duration(sc.scrape_interval)),
                ("__scrape_timeout__".into(), fmt_duration(sc.scrape_timeout)),
                ("job".into(), sc.job_name.clone()),
            ];
            for (k, v) in &sc.params {
                if let Some(first) = v.first() {
                    labels.push((format!("__param_{k}"), first.clone()));
                }
            }
            for (k, v) in &group.labels {
                match labels.iter_mut().find(|(n, _)| n == k) {
                    Some(slot) => slot.1 = v.clone(),
                    None => labels.push((k.clone(), v.clone())),
                }
            }
            if !relabel::apply(&sc.relabel_configs, &mut labels) {
                tracing::debug!(job = %sc.job_name, target = %addr, "target dropped by relabel_configs");
                continue;
            }
            let Some(address) = get(&labels, "__address__").filter(|a| !a.is_empty()).map(str::to_string) else {
                tracing::warn!(job = %sc.job_name, target = %addr, "target has no __address__ after relabeling");
                continue;
            };
            if get(&labels, "instance").is_none() {
                labels.push(("instance".into(), address.clone()));
            }
            let scheme = get(&labels, "__scheme__").unwrap_or("http").to_string();
            let path = get(&labels, "__metrics_path__").unwrap_or("/metrics").to_string();
            let mut url = match reqwest::Url::parse(&format!("{scheme}://{address}{path}")) {
                Ok(u) => u,
                Err(e) => {
                    tracing::warn!(job = %sc.job_name, target = %addr, error = %e, "target URL is invalid; skipped");
                    continue;
                }
            };
            {
                let mut q = url.query_pairs_mut();
                for (k, vals) in &sc.params {
                    // A relabeled `__param_x` replaces the first value, as in Prometheus.
                    match get(&labels, &format!("__param_{k}")) {
                        Some(v) => {
                            q.append_pair(k, v);
                            for rest in vals.iter().skip(1) {
                                q.append_pair(k, rest);
                            }
                        }
                        None => {
                            for v in vals {
                                q.append_pair(k, v);
                            }
                        }
                    }
                }
                for (k, v) in labels.iter().filter_map(|(k, v)| Some((k.strip_prefix("__param_")?, v))) {
                    if !sc.params.contains_key(k) {
                        q.append_pair(k, v);
                    }
                }
            }
            let mut url = url.to_string();
            if url.ends_with('?') {
                url.pop();
            }
            labels.retain(|(k, _)| !k.starts_with("__"));
            labels.sort();
            let mut t = Target { url, labels, job: String::new(), instance: String::new(), scheme, address };
            t.job = t.label("job").to_string();
            t.instance = t.label("instance").to_string();
            out.push(t);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc(yaml: &str) -> ScrapeConfig {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn static_targets_get_job_instance_and_url() {
        let t = targets(&sc(
            "{job_name: node, scheme: https, metrics_path: /m, params: {module: [a, b]}, static_configs: [{targets: ['h:1', 'h:2'], labels: {env: prod}}]}",
        ));
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].url, "https://h:1/m?module=a&module=b");
        assert_eq!(t[0].job, "node");
        assert_eq!(t[0].instance, "h:1");
        assert_eq!(
            t[0].labels,
            vec![("env".into(), "prod".into()), ("instance".into(), "h:1".into()), ("job".into(), "node".into())]
        );
    }

    #[test]
    fn relabel_configs_rewrite_and_drop_targets() {
        let t = targets(&sc("{job_name: j, static_configs: [{targets: ['a:1', 'b:2']}], relabel_configs: [\
              {source_labels: [__address__], regex: 'b:.*', action: drop},\
              {source_labels: [__address__], regex: '(.*):1', target_label: instance, replacement: '$1'},\
              {target_label: __metrics_path__, replacement: /other},\
              {target_label: __param_x, replacement: '1'}]}"));
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].instance, "a");
        assert_eq!(t[0].url, "http://a:1/other?x=1");
    }
}
