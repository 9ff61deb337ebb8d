//! Raw command-line flags resolved into the settings the library runs with,
//! once; nothing below this file sees clap.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::cli::{ExportArgs, ExportFormat, ServeArgs, SplitByArg};
use crate::error::{Error, Result};
use crate::export::{ExportOptions, Format, ProgressMode, SplitBy, command_line};
use crate::web::{DEFAULT_BODY_LIMIT, ServeConfig};

impl ExportArgs {
    /// The export these flags ask for, checked, with the command line as
    /// typed (for the dataset card).
    pub fn options(&self) -> Result<ExportOptions> {
        let args = self;
        let options = ExportOptions {
            format: match args.format {
                ExportFormat::Mnist => Format::Mnist,
                ExportFormat::Csv => Format::Csv,
                ExportFormat::Imagefolder => Format::ImageFolder,
                ExportFormat::Ndjson => Format::Ndjson,
            },
            out: args.out.clone(),
            test_fraction: args.test_fraction,
            seed: args.seed,
            split_by: match args.split_by {
                SplitByArg::Sample => SplitBy::Sample,
                SplitByArg::Session => SplitBy::Session,
            },
            gzip: args.gzip,
            simplified: args.simplified,
            command: command_line(std::env::args_os().map(|a| a.to_string_lossy().into_owned())),
            progress: ProgressMode::Auto,
        };
        options.validate()?;
        Ok(options)
    }
}

impl ServeArgs {
    /// The server settings these flags ask for: `--addr` if given, else
    /// `--port` on 127.0.0.1 (0.0.0.0 with `--lan`). An `--addr` other than
    /// loopback counts as `--lan`; `--lan` with a loopback `--addr` is refused,
    /// as no other device could reach it.
    pub fn config(&self) -> Result<ServeConfig> {
        let addr = match self.addr {
            Some(addr) => addr,
            None if self.lan => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), self.port),
            None => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port),
        };
        if self.lan && addr.ip().is_loopback() {
            return Err(Error::Usage(format!(
                "--lan and --addr {addr} disagree: a loopback address is reachable from this computer only"
            )));
        }
        Ok(ServeConfig {
            addr,
            lan: self.lan || !addr.ip().is_loopback(),
            rate_limit_per_min: self.rate_limit,
            body_limit: DEFAULT_BODY_LIMIT,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(lan: bool, port: u16, addr: Option<&str>) -> ServeArgs {
        ServeArgs {
            lan,
            port,
            addr: addr.map(|a| a.parse().unwrap()),
            rate_limit: 60,
        }
    }

    #[test]
    fn loopback_by_default_all_interfaces_with_lan_addr_overrides() {
        assert_eq!(
            args(false, 5000, None).config().unwrap().addr.to_string(),
            "127.0.0.1:5000"
        );
        let lan = args(true, 8080, None).config().unwrap();
        assert_eq!(
            (lan.addr.to_string().as_str(), lan.lan),
            ("0.0.0.0:8080", true)
        );
        assert_eq!(
            args(false, 5000, Some("127.0.0.1:0"))
                .config()
                .unwrap()
                .addr
                .port(),
            0
        );
        assert!(args(false, 1, Some("10.1.2.3:9000")).config().unwrap().lan);
        assert!(args(true, 1, Some("127.0.0.1:9000")).config().is_err());
    }
}
