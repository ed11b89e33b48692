//! `taskwright examples load`: puts the example scripts of `examples/` on a
//! running server through its public REST API, exactly as an administrator
//! with curl would (`PUT /api/scripts/{name}`, then the extra file).
//!
//! The examples are compiled into the binary, so the command works from any
//! directory. Loading again replaces them with the shipped versions.

use anyhow::{bail, Context};
use serde_json::Value;
use std::io::Write;

/// One example: its name on the server, its settings (`task.json`, the
/// script's fields without the body), its script text, and the files that
/// are zipped into its extra file, if any.
struct Example {
    name: &'static str,
    settings: &'static str,
    script: &'static str,
    bundle: &'static [(&'static str, &'static [u8])],
}

macro_rules! example_file {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/", $path))
    };
}

const EXAMPLES: &[Example] = &[
    Example {
        name: "data-summary",
        settings: example_file!("data-summary/task.json"),
        script: example_file!("data-summary/summary.py"),
        bundle: &[
            (
                "data/measurements.csv",
                example_file!("data-summary/bundle/data/measurements.csv").as_bytes(),
            ),
            (
                "summary_helpers.py",
                example_file!("data-summary/bundle/summary_helpers.py").as_bytes(),
            ),
        ],
    },
    Example {
        name: "backup",
        settings: example_file!("backup/task.json"),
        script: example_file!("backup/backup.sh"),
        bundle: &[],
    },
    Example {
        name: "submit-job",
        settings: example_file!("submit-job/task.json"),
        script: example_file!("submit-job/submit.py"),
        bundle: &[],
    },
    Example {
        name: "nightly-check",
        settings: example_file!("nightly-check/task.json"),
        script: example_file!("nightly-check/check.sh"),
        bundle: &[],
    },
    Example {
        name: "molgenis-client",
        settings: example_file!("molgenis-client/task.json"),
        script: example_file!("molgenis-client/client.py"),
        bundle: &[],
    },
];

/// Saves every example on the server at `url`, authenticated by an admin `token`.
pub async fn load(url: &str, token: &str) -> anyhow::Result<()> {
    let url = url.trim_end_matches('/');
    let http = reqwest::Client::new();
    for ex in EXAMPLES {
        let mut definition: Value = serde_json::from_str(ex.settings)
            .with_context(|| format!("examples/{}/task.json is not valid JSON", ex.name))?;
        definition["script"] = Value::String(ex.script.to_string());
        let saved = http
            .put(format!("{url}/api/scripts/{}", ex.name))
            .header("x-molgenis-token", token)
            .json(&definition)
            .send()
            .await
            .with_context(|| format!("cannot reach Taskwright at {url}"))?;
        let verb = match saved.status().as_u16() {
            201 => "created",
            _ => "replaced",
        };
        check(saved, ex.name, "saving the script").await?;
        let mut line = format!(
            "{verb} {:<16} {}",
            ex.name,
            definition["type"].as_str().unwrap_or("?")
        );
        if !ex.bundle.is_empty() {
            let zip = zip_bundle(ex.bundle)?;
            let filename = format!("{}.zip", ex.name);
            let sent = http
                .put(format!(
                    "{url}/api/scripts/{}/extra-file?filename={filename}",
                    ex.name
                ))
                .header("x-molgenis-token", token)
                .header("content-type", "application/zip")
                .body(zip.clone())
                .send()
                .await
                .with_context(|| format!("cannot reach Taskwright at {url}"))?;
            check(sent, ex.name, "uploading its extra file").await?;
            line.push_str(&format!(", extra file {filename} ({} bytes)", zip.len()));
        }
        if let Some(cron) = definition["cron"].as_str() {
            line.push_str(&format!(", cron {cron:?}"));
        }
        println!("{line}");
    }
    println!(
        "\n{} examples loaded. Run one:\n  curl -X POST -H \"x-molgenis-token: $TOKEN\" -d weight_g \
         {url}/api/scripts/data-summary\nor open {url}/apps/tasks",
        EXAMPLES.len()
    );
    Ok(())
}

/// Fails with the server's own message when a call did not succeed.
async fn check(response: reqwest::Response, name: &str, what: &str) -> anyhow::Result<()> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["errors"][0]["message"].as_str().map(str::to_string))
        .unwrap_or(body);
    let hint = match status.as_u16() {
        401 => " (is the token right? create one with POST /api/tokens or under Tokens in the app)",
        403 => " (loading examples needs an admin token)",
        _ => "",
    };
    bail!("{name}: {what} failed: {status}: {message}{hint}")
}

fn zip_bundle(files: &[(&str, &[u8])]) -> anyhow::Result<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (path, bytes) in files {
        zip.start_file(*path, options)?;
        zip.write_all(bytes)?;
    }
    Ok(zip.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_has_valid_settings_and_a_name_the_server_accepts() {
        for ex in EXAMPLES {
            let v: Value = serde_json::from_str(ex.settings).expect(ex.name);
            assert!(v["type"].is_string(), "{} has no type", ex.name);
            assert!(
                v.get("script").is_none(),
                "{}: the body comes from its file",
                ex.name
            );
            app::model::validate_script_name(ex.name).expect(ex.name);
        }
    }

    #[test]
    fn the_bundle_zips_with_its_folders() {
        let bytes = zip_bundle(EXAMPLES[0].bundle).unwrap();
        let archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut names: Vec<_> = archive.file_names().collect();
        names.sort();
        assert_eq!(names, ["data/measurements.csv", "summary_helpers.py"]);
    }
}
