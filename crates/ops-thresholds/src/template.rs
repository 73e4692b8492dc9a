//! Annotation templates: `{{ value }}`, `{{ threshold }}`, `{{ name }}`, `{{ labels.KEY }}`
//! (also written `$value`, `$labels.KEY`, as Prometheus spells them). Checked when rules are
//! loaded: an unknown placeholder or a label the alert will not have is an error then, never
//! text printed as written or an empty string later.

use std::fmt::Write as _;

/// Renders `template`: `{{ value }}` and `{{ threshold }}` with one decimal (the playbook's
/// `{:.1f}`), `{{ name }}` the rule's name, `{{ labels.KEY }}` a label's value. Templates are
/// [`check`]ed at load; an unknown placeholder that got past it is left as written.
pub(crate) fn render(
    template: &str,
    value: f64,
    threshold: f64,
    name: &str,
    labels: &[(String, String)],
) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let key = after[..end].trim();
        match key {
            "value" | "$value" => {
                let _ = write!(out, "{value:.1}");
            }
            "threshold" => {
                let _ = write!(out, "{threshold:.1}");
            }
            "name" => out.push_str(name),
            k => match k
                .strip_prefix("labels.")
                .or_else(|| k.strip_prefix("$labels."))
            {
                Some(label) => {
                    if let Some((_, v)) = labels.iter().find(|(k, _)| k == label) {
                        out.push_str(v);
                    }
                }
                None => out.push_str(&rest[start..start + 2 + end + 2]),
            },
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Checks a template against the labels its alerts will carry: every `{{ … }}` must be one of
/// the placeholders [`render`] knows, and every `labels.KEY` one of `labels` (any label when
/// they are not known in advance, as for a `PromQL` rule).
pub(crate) fn check(template: &str, labels: Option<&[&str]>) -> Result<(), String> {
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("a `{{` is not closed by `}}`".into());
        };
        let key = after[..end].trim();
        match key {
            "value" | "$value" | "threshold" | "name" => {}
            k => match k
                .strip_prefix("labels.")
                .or_else(|| k.strip_prefix("$labels."))
            {
                Some(label) => {
                    if let Some(labels) = labels
                        && !labels.contains(&label)
                    {
                        return Err(format!(
                            "`{{{{ {k} }}}}`: the alert has no label `{label}` (it has {})",
                            labels.join(", ")
                        ));
                    }
                }
                None => {
                    return Err(format!(
                        "unknown placeholder `{{{{ {k} }}}}` (known: value, threshold, name, labels.KEY)"
                    ));
                }
            },
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

#[cfg(test)]
mod test {
    use super::{check, render};

    #[test]
    fn typos_and_missing_labels_are_refused() {
        let labels = ["alertname", "severity", "mount"];
        let labels = Some(&labels[..]);
        assert_eq!(check("{{ value }} on {{ $labels.mount }}", labels), Ok(()));
        assert_eq!(check("on {{ labels.route }}", None), Ok(()));
        assert_eq!(
            check("{{ valu }}", labels),
            Err(
                "unknown placeholder `{{ valu }}` (known: value, threshold, name, labels.KEY)"
                    .into()
            )
        );
        assert_eq!(
            check("on {{ labels.instance }}", labels),
            Err("`{{ labels.instance }}`: the alert has no label `instance` (it has alertname, severity, mount)".into())
        );
        assert!(check("{{ value", labels).is_err());
    }

    #[test]
    fn renders_the_playbooks_messages() {
        let labels = vec![("mount".to_owned(), "/".to_owned())];
        assert_eq!(
            render("High CPU usage: {{ value }}%", 93.24, 80.0, "HighCpu", &[]),
            "High CPU usage: 93.2%"
        );
        assert_eq!(
            render(
                "High disk usage on {{labels.mount}}: {{value}}%",
                91.5,
                90.0,
                "x",
                &labels
            ),
            "High disk usage on /: 91.5%"
        );
        assert_eq!(
            render(
                "{{ name }} over {{ threshold }} {{ nope }} {{ unclosed",
                1.0,
                80.0,
                "R",
                &[]
            ),
            "R over 80.0 {{ nope }} {{ unclosed"
        );
    }
}
