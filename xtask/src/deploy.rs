//! `cargo xtask deploy [--dry-run] --stack … --region … --domain … …`: the whole deploy as
//! one shell script — package, upload the media node, `sam deploy`, copy the stack's
//! secrets into the Worker's, `wrangler deploy` with the deployment's route and vars.
//! `--dry-run` prints the script with every parameter resolved; without it, it runs
//! (`bash -euo pipefail`). Values only known after the stack exists (its outputs, its
//! secrets) are read by the script itself, never printed.

use std::process::Command;

use anyhow::{bail, Result};

use crate::{iac, package, root, run, target_dir};

struct Deploy {
    stack: String,
    region: String,
    domain: String,
    media_domain: String,
    bucket: String,
    vpc: String,
    subnet: String,
    alarm_email: String,
    /// The sender of the platform's e-mail (its server's URL comes from the environment:
    /// `VITRINE_PLATFORM_SMTP`, a secret, never on a command line).
    mail_from: String,
    /// Lambda's name for it: `x86_64` or `arm64` (both are packaged).
    arch: String,
    /// The TURN relay's host (README, "Calls for visitors behind firewalls"); none: no relay.
    turn_domain: Option<String>,
    dry_run: bool,
}

const USAGE: &str = "usage: cargo xtask deploy [--dry-run] --stack NAME --region REGION \
--domain AGENTS_HOST --media-domain MEDIA_HOST --bucket ARTIFACTS_BUCKET --vpc VPC_ID \
--subnet PUBLIC_SUBNET_ID --alarm-email ADDRESS --mail-from 'NAME <ADDRESS>' [--arch x86_64|arm64]
[--turn-domain TURN_HOST]
(with VITRINE_PLATFORM_SMTP=smtps://user:password@host:465 in the environment)";

fn parse(args: &[String]) -> Result<Deploy> {
    let mut dry_run = false;
    let mut values = std::collections::HashMap::new();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        if flag == "--dry-run" {
            dry_run = true;
            continue;
        }
        let Some(name) = flag.strip_prefix("--") else {
            bail!("unexpected {flag}\n{USAGE}");
        };
        let Some(value) = rest.next() else {
            bail!("{flag} needs a value\n{USAGE}");
        };
        values.insert(name.to_string(), value.clone());
    }
    let mut take = |name: &str| {
        values
            .remove(name)
            .ok_or_else(|| anyhow::anyhow!("--{name} is missing\n{USAGE}"))
    };
    let deploy = Deploy {
        stack: take("stack")?,
        region: take("region")?,
        domain: take("domain")?,
        media_domain: take("media-domain")?,
        bucket: take("bucket")?,
        vpc: take("vpc")?,
        subnet: take("subnet")?,
        alarm_email: take("alarm-email")?,
        mail_from: take("mail-from")?,
        arch: values.remove("arch").unwrap_or_else(|| "x86_64".into()),
        turn_domain: values.remove("turn-domain"),
        dry_run,
    };
    if let Some(unknown) = values.keys().next() {
        bail!("unknown option --{unknown}\n{USAGE}");
    }
    if !package::ARCHES.iter().any(|a| a.name == deploy.arch) {
        bail!("--arch {}: x86_64 or arm64", deploy.arch);
    }
    for host in [&deploy.domain, &deploy.media_domain]
        .into_iter()
        .chain(deploy.turn_domain.as_ref())
    {
        if host.contains('/') || host.contains(':') {
            bail!("{host}: a host name only (agents.example.com), no scheme or path");
        }
    }
    Ok(deploy)
}

fn script(d: &Deploy) -> String {
    let root = root();
    let arch = &d.arch;
    // The media node's instance: one core is enough (BENCHMARKS.md), of the arch's family.
    let instance = match arch.as_str() {
        "arm64" => "c7g.large",
        _ => "c7i.large",
    };
    let package = target_dir().join("package");
    let api_zip = package.join(format!("vitrine-api-lambda-{arch}.zip"));
    let media_tar = package.join(format!("vitrine-media-node-{arch}.tar.gz"));
    let version = env!("CARGO_PKG_VERSION");
    let media_key = format!("vitrine-media-node/{version}/vitrine-media-node-{arch}.tar.gz");
    let Deploy {
        stack,
        region,
        domain,
        media_domain,
        bucket,
        vpc,
        subnet,
        alarm_email,
        mail_from,
        ..
    } = d;
    let turn_domain = d.turn_domain.as_deref().unwrap_or_default();
    // With a relay: its secret and URLs go to the Worker, its DNS record and certificate
    // are set by hand (step 5).
    let turn_secrets = match d.turn_domain {
        Some(_) => "secret TurnSecret | npx wrangler secret put VITRINE_TURN_SECRET\n",
        None => "",
    };
    let turn_vars = match d.turn_domain {
        Some(_) => " \\\n  --var VITRINE_TURN_URLS:\"$(output TurnUrls)\"",
        None => "",
    };
    let turn_by_hand = match &d.turn_domain {
        Some(host) => format!(
            "#    A DNS-only (not proxied) A record {host} -> the stack's TurnAddress, and a \
             publicly\n#    trusted certificate for {host} (browsers check it) as JSON \
             {{\"certificate\": PEM, \"key\": PEM}}\n#    in the stack's TurnCertificate secret.\n\
             echo \"TURN relay address: $(output TurnAddress)\"\n"
        ),
        None => String::new(),
    };
    let template = root.join(iac::TEMPLATE);
    let worker = root.join("edge/worker");
    format!(
        r#"# 1. What is deployed: the API's zip and the media node's tarball for {arch} (glibc checked).
cargo xtask package
aws s3 cp '{media_tar}' 's3://{bucket}/{media_key}' --region '{region}'

# 2. The AWS stack: table, API, media node, secrets, alarms.
sam deploy --template-file '{template}' --stack-name '{stack}' --region '{region}' \
  --s3-bucket '{bucket}' --s3-prefix '{stack}' --capabilities CAPABILITY_IAM \
  --no-fail-on-empty-changeset --parameter-overrides \
  EdgeOrigin='https://{domain}' Architecture='{arch}' ApiPackage='{api_zip}' \
  MediaNodeDomain='{media_domain}' MediaNodePackage='s3://{bucket}/{media_key}' \
  MediaNodeInstanceType='{instance}' TurnDomain='{turn_domain}' TurnInstanceType='{instance}' \
  VpcId='{vpc}' SubnetId='{subnet}' AlarmEmail='{alarm_email}' \
  PlatformMailFrom='{mail_from}' PlatformSmtpUrl="${{VITRINE_PLATFORM_SMTP:?the platform's SMTP URL}}"

output() {{ aws cloudformation describe-stacks --stack-name '{stack}' --region '{region}' \
  --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text; }}
secret() {{ aws secretsmanager get-secret-value --secret-id "$(output "$1")" --region '{region}' \
  --query SecretString --output text; }}

# 3. The Worker's secrets, from the stack's (values never printed). The visitor key and
#    the operator token are the Worker's own: made once, kept on later deploys.
cd '{worker}'
npm ci --no-audit --no-fund
secret ChangesKey | npx wrangler secret put VITRINE_CHANGES_KEY
secret CallKey | npx wrangler secret put VITRINE_CALL_KEY
secret EdgeCredentials | npx wrangler secret bulk
{turn_secrets}npx wrangler secret list | grep -q VITRINE_VISITOR_KEY || \
  openssl rand -hex 32 | npx wrangler secret put VITRINE_VISITOR_KEY
npx wrangler secret list | grep -q VITRINE_OPERATOR_TOKEN || \
  openssl rand -hex 32 | npx wrangler secret put VITRINE_OPERATOR_TOKEN

# 4. The Worker, on the agents' host, pointed at the API and the media node.
cargo xtask worker
npx wrangler deploy --domain '{domain}' \
  --var VITRINE_DYNAMODB_TABLE:"$(output TableName)" --var AWS_REGION:'{region}' \
  --var VITRINE_API_ORIGIN:"$(output ApiOrigin)" \
  --var VITRINE_MEDIA_URL:'wss://{media_domain}/ws/call' \
  --var VITRINE_MEDIA_CONTROL_URL:'https://{media_domain}/control'{turn_vars}

# 5. By hand, once: in Cloudflare DNS, a proxied A record {media_domain} -> the stack's
#    MediaNodeAddress ($(output MediaNodeAddress)); SSL/TLS mode "Full (strict)"; a
#    Cloudflare origin certificate for {media_domain} stored as JSON
#    {{"certificate": PEM, "key": PEM}} in the stack's MediaNodeCertificate secret.
echo "media node address: $(output MediaNodeAddress)"
{turn_by_hand}"#,
        media_tar = media_tar.display(),
        api_zip = api_zip.display(),
        template = template.display(),
        worker = worker.display(),
    )
}

pub fn deploy(args: &[String]) -> Result<()> {
    let d = parse(args)?;
    let script = script(&d);
    if d.dry_run {
        print!("{script}");
        return Ok(());
    }
    run(Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(root()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    const FULL: &str = "--dry-run --stack shop --region eu-west-1 --domain agents.example.com \
        --media-domain media1.example.com --bucket shop-artifacts --vpc vpc-0abc \
        --subnet subnet-0def --alarm-email ops@example.com --mail-from no-reply@example.com";

    #[test]
    fn the_dry_run_names_every_parameter_it_was_given() {
        let script = script(&parse(&args(FULL)).unwrap());
        for value in [
            "--stack-name 'shop'",
            "--region 'eu-west-1'",
            "EdgeOrigin='https://agents.example.com'",
            "MediaNodeDomain='media1.example.com'",
            "VpcId='vpc-0abc'",
            "SubnetId='subnet-0def'",
            "AlarmEmail='ops@example.com'",
            "PlatformMailFrom='no-reply@example.com'",
            "--domain 'agents.example.com'",
            "VITRINE_MEDIA_URL:'wss://media1.example.com/ws/call'",
            "Architecture='x86_64'",
            "MediaNodeInstanceType='c7i.large'",
        ] {
            assert!(script.contains(value), "{value} missing from\n{script}");
        }
    }

    #[test]
    fn arm64_deploys_the_arm64_packages_on_a_graviton_node() {
        let script = script(&parse(&args(&format!("{FULL} --arch arm64"))).unwrap());
        for value in [
            "Architecture='arm64'",
            "vitrine-api-lambda-arm64.zip",
            "vitrine-media-node-arm64.tar.gz",
            "MediaNodeInstanceType='c7g.large'",
        ] {
            assert!(script.contains(value), "{value} missing from\n{script}");
        }
        assert!(!script.contains("x86_64"), "{script}");
        assert!(parse(&args(&format!("{FULL} --arch riscv64"))).is_err());
    }

    #[test]
    fn a_turn_domain_deploys_the_relay_and_hands_its_secret_and_urls_to_the_worker() {
        let without = script(&parse(&args(FULL)).unwrap());
        assert!(without.contains("TurnDomain=''"), "{without}");
        assert!(!without.contains("VITRINE_TURN"), "{without}");
        let script =
            script(&parse(&args(&format!("{FULL} --turn-domain turn.example.com"))).unwrap());
        for value in [
            "TurnDomain='turn.example.com'",
            "secret TurnSecret | npx wrangler secret put VITRINE_TURN_SECRET",
            "--var VITRINE_TURN_URLS:\"$(output TurnUrls)\"",
            "A DNS-only (not proxied) A record turn.example.com",
        ] {
            assert!(script.contains(value), "{value} missing from\n{script}");
        }
        assert!(parse(&args(&format!("{FULL} --turn-domain turns://x"))).is_err());
    }

    #[test]
    fn a_missing_or_malformed_parameter_is_refused_by_name() {
        let without_vpc = FULL.replace("--vpc vpc-0abc", "");
        let error = parse(&args(&without_vpc)).err().unwrap().to_string();
        assert!(error.starts_with("--vpc is missing"), "{error}");
        let with_scheme = FULL.replace("--domain agents", "--domain https://agents");
        assert!(parse(&args(&with_scheme)).is_err());
    }
}
