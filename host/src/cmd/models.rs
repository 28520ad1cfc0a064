//! `econ-host models list|fetch`.

use anyhow::Result;

use crate::error::bad_input;

pub(super) fn models_list() -> Result<()> {
    let dir = crate::models::cache_dir();
    for (name, spec) in crate::models::catalogue().map_err(bad_input)? {
        let state = match crate::models::fetch::present(&spec, &dir, false)? {
            crate::models::fetch::Presence::Missing => "missing",
            _ => "fetched",
        };
        println!(
            "{name:<18} {:>6.0} MB  {state:<8} {}",
            spec.size as f64 / 1e6,
            spec.description
        );
    }
    println!("cache: {}", dir.display());
    Ok(())
}

pub(super) fn models_fetch(
    names: &[String],
    verify: bool,
    index_url: Option<String>,
) -> Result<()> {
    let options = crate::models::fetch::FetchOptions {
        cache: crate::models::cache_dir(),
        verify,
        index_url,
    };
    crate::models::fetch::fetch(names, &options)
}
