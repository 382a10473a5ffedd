//! `sshmap geoip lookup | info | update`.

use super::*;

pub(super) fn geoip(settings: &Settings, command: GeoipCommand) -> Result<i32> {
    let mut out = io::stdout().lock();
    match command {
        GeoipCommand::Lookup { ips, json } => {
            let loc = locator(settings)?.context(
                "GeoIP is off (--geoip none): leave it out to use the embedded database",
            )?;
            for s in &ips {
                let ip = crate::parse::ip::parse_ip(s.trim().as_bytes()).with_context(|| {
                    format!("{s:?} is not an IP address (give IPv4 or IPv6 addresses)")
                })?;
                let l = loc.locate(ip);
                if json {
                    #[derive(serde::Serialize)]
                    struct Out<'a> {
                        ip: String,
                        scope: crate::event::Scope,
                        geo: &'a Option<Arc<crate::event::Geo>>,
                    }
                    serde_json::to_writer(
                        &mut out,
                        &Out {
                            ip: l.ip.to_string(),
                            scope: l.scope,
                            geo: &l.geo,
                        },
                    )?;
                    out.write_all(b"\n")?;
                } else {
                    writeln!(out, "{}", geo::locate::describe(&l))?;
                }
            }
        }
        GeoipCommand::Info => {
            let loc = locator(settings)?;
            let dir = settings
                .data_dir
                .as_deref()
                .map(|d| d.display().to_string());
            writeln!(
                out,
                "data directory: {}",
                dir.as_deref().unwrap_or("(none: set SSHMAP_DATA_DIR)")
            )?;
            match &loc {
                None => writeln!(out, "GeoIP enrichment is off (--geoip none)")?,
                Some(loc) => {
                    for (role, db) in loc.databases() {
                        write!(out, "{}", geo::locate::info(role, db))?;
                    }
                }
            }
        }
        GeoipCommand::Update { edition, url } => {
            let edition = geo::update::Edition::parse(edition.as_deref().unwrap_or("country"))?;
            let dir = settings
                .data_dir
                .as_deref()
                .context("no data directory: set SSHMAP_DATA_DIR (or XDG_DATA_HOME / HOME)")?;
            if !settings.quiet {
                eprintln!(
                    "sshmap: downloading the DB-IP {} Lite database…",
                    edition.as_str()
                );
            }
            let u = geo::update::update(dir, edition, url.as_deref())?;
            writeln!(
                out,
                "{}: {} ({}, built {}, {} bytes) from {}",
                u.path.display(),
                u.database_type,
                edition.as_str(),
                geo::locate::date(u.build_epoch),
                u.bytes,
                u.url
            )?;
            writeln!(out, "Attribution: {}", geo::DBIP_ATTRIBUTION)?;
        }
    }
    out.flush()?;
    Ok(0)
}
