"""mailflow.toml loading: validation names file and key; secrets never leak."""

from __future__ import annotations

import logging

import pytest

from mailflow.config.paths import shipped
from mailflow.config.settings import load_settings
from mailflow.errors import ConfigError
from support import TEST_ENV, write_config


def test_shipped_config_is_valid_and_documents_every_key():
    settings = load_settings(shipped("mailflow.toml"), env={"MAILFLOW_IMAP_PASSWORD": "x", "MAILFLOW_SMTP_PASSWORD": "y"})
    assert settings.office.complaint_address == "aduan@dukcapil.test"
    assert settings.imap.security == "tls" and settings.imap.verify_certificate is True
    assert settings.smtp.password.reveal() == "y"
    lines = shipped("mailflow.toml").read_text().splitlines()
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key = line.split("=")[0].strip()
            if key not in seen:
                assert lines[i - 1].startswith("#"), f"key {key!r} (line {i + 1}) has no comment above it"
            seen.add(key)
    assert {"host", "security", "password_env", "url", "processed_folder", "quarantine_folder"} <= seen


def test_password_in_toml_is_refused_naming_the_key(tmp_path):
    path = write_config(tmp_path, db_url="sqlite:///x.db")
    path.write_text(path.read_text().replace('username = "aduan"', 'username = "aduan"\npassword = "hunter2"'))
    with pytest.raises(ConfigError) as err:
        load_settings(path, env=TEST_ENV)
    assert "imap.password" in str(err.value) and "password_env" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_missing_password_env_names_the_variable_not_a_value(tmp_path):
    path = write_config(tmp_path, db_url="sqlite:///x.db")
    settings = load_settings(path, env={})  # commands that need no server still work
    with pytest.raises(ConfigError, match="TEST_IMAP_PASSWORD"):
        settings.check_secrets()


def test_password_file(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("s3cret-from-file\n")
    path = write_config(tmp_path, db_url="sqlite:///x.db")
    path.write_text(path.read_text().replace('password_env = "TEST_IMAP_PASSWORD"', f'password_file = "{secret}"'))
    settings = load_settings(path, env={})
    assert settings.imap.password.reveal() == "s3cret-from-file"


def test_secret_never_printed(tmp_path, caplog):
    path = write_config(tmp_path, db_url="sqlite:///x.db")
    settings = load_settings(path, env={"TEST_IMAP_PASSWORD": "topsecretvalue"})
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("t").info("settings %s %r", settings, settings.imap)
    assert "topsecretvalue" not in caplog.text
    assert "topsecretvalue" not in repr(settings) and "topsecretvalue" not in str(settings.imap.password)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('security = "none"', 'security = "ssl"', "imap.security"),
        ('port = 143', 'port = 99999', "imap.port"),
        ('timezone = "Asia/Jakarta"', 'timezone = "Asia/Bantul"', "office.timezone"),
        ('complaint_address = "aduan@dukcapil.test"', 'complaint_address = "aduan"', "office.complaint_address"),
        ('poll_interval = 1', 'poll_intervall = 1', "imap.poll_intervall"),
        ('timeout = 10\n\n[smtp]', 'timeout = "ten"\n\n[smtp]', "imap.timeout"),
    ],
)
def test_errors_name_file_and_key(tmp_path, old, new, key):
    path = write_config(tmp_path, db_url="sqlite:///x.db")
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_settings(path, env=TEST_ENV)
    assert str(path) in str(err.value) and f"'{key}'" in str(err.value)


def test_register_pattern_must_contain_seq(tmp_path):
    path = write_config(tmp_path, db_url="sqlite:///x.db",
                        extra="")
    path.write_text(path.read_text().replace('alert_address', 'register_pattern = "ADU/{year}"\nalert_address'))
    with pytest.raises(ConfigError, match="office.register_pattern"):
        load_settings(path, env=TEST_ENV)


def test_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError, match="mailflow init"):
        load_settings(tmp_path / "nope.toml", env={})


def test_relative_sqlite_url_is_relative_to_the_config(tmp_path):
    path = write_config(tmp_path, db_url="sqlite:///data/m.db")
    settings = load_settings(path, env=TEST_ENV)
    assert settings.database_url == f"sqlite:///{tmp_path}/data/m.db"


def test_database_url_from_environment_overrides(tmp_path):
    path = write_config(tmp_path, db_url="sqlite:///m.db")
    settings = load_settings(path, env={**TEST_ENV, "MAILFLOW_DATABASE_URL": "postgresql+psycopg://u:pw@h/db"})
    assert settings.database_url == "postgresql+psycopg://u:pw@h/db"


# ---------------------------------------------------------------- a deployment of many offices

def _deployment(tmp_path, *, single=True):
    from devstack.config import write_office

    path = write_config(tmp_path, db_url="sqlite:///m.db",
                        extra='\n[deployment]\noffices = "offices"\n\n[limits]\nnotices_per_hour = 5\n')
    if not single:  # mailflow.toml holds only what the offices share
        text = path.read_text()
        path.write_text(text[text.index("[database]"):])
    write_office(tmp_path / "offices", "sleman", username="aduan-sleman", register_pattern="SLM/{year}/{seq:04d}",
                 extra="\n[limits]\nnotices_per_hour = 9\n")
    write_office(tmp_path / "offices", "kulon-progo", username="aduan-kp", rules="kulonprogo-website.toml")
    return path


def test_a_single_office_config_is_one_office_named_default(tmp_path):
    from mailflow.config.settings import load_deployment

    deployment = load_deployment(write_config(tmp_path, db_url="sqlite:///m.db"), env=TEST_ENV)
    assert deployment.keys == ("default",)
    assert deployment.offices[0].office.complaint_address == "aduan@dukcapil.test"


def test_a_folder_of_office_files_adds_an_office_each_keyed_by_its_file_name(tmp_path):
    from mailflow.config.settings import load_deployment

    deployment = load_deployment(_deployment(tmp_path), env=TEST_ENV)
    assert deployment.keys == ("default", "kulon-progo", "sleman")
    sleman = deployment.office("sleman")
    assert sleman.office.register_pattern == "SLM/{year}/{seq:04d}"
    assert sleman.imap.username == "aduan-sleman" and sleman.office.complaint_address == "aduan-sleman@dukcapil.test"
    assert sleman.path == tmp_path / "offices" / "sleman.toml"
    # the office file's own limit wins; keys it leaves out are mailflow.toml's
    assert sleman.limits.notices_per_hour == 9 and deployment.office("kulon-progo").limits.notices_per_hour == 5
    assert deployment.office("kulon-progo").office.rules.name == "kulonprogo-website.toml"
    # one database for all
    assert {s.database_url for s in deployment.offices} == {f"sqlite:///{tmp_path}/m.db"}
    with pytest.raises(ConfigError, match="no office 'gunungkidul'.*default, kulon-progo, sleman"):
        deployment.office("gunungkidul")
    assert load_settings(tmp_path / "mailflow.toml", env=TEST_ENV, office="sleman").office == sleman.office


def test_mailflow_toml_may_hold_only_the_shared_keys(tmp_path):
    from mailflow.config.settings import load_deployment

    deployment = load_deployment(_deployment(tmp_path, single=False), env=TEST_ENV)
    assert deployment.keys == ("kulon-progo", "sleman")


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: (t / "offices" / "sleman.toml").write_text(
        (t / "offices" / "sleman.toml").read_text().replace("[office]\n", '[office]\nkey = "kulon-progo"\n')),
     r"sleman.toml: key 'office.key': the office key 'kulon-progo' is taken already"),
    (lambda t: (t / "offices" / "sleman.toml").write_text(
        (t / "offices" / "sleman.toml").read_text().replace('username = "aduan-sleman"', 'username = "aduan-kp"')),
     r"sleman.toml: key 'imap.username': the mailbox aduan-kp@127.0.0.1 INBOX is office 'kulon-progo'"),
    (lambda t: (t / "offices" / "sleman.toml").rename(t / "offices" / "Sleman Kab.toml"),
     r"Sleman Kab.toml: key 'office.key': is missing and the file name is no key"),
    (lambda t: (t / "offices" / "sleman.toml").write_text(
        (t / "offices" / "sleman.toml").read_text().replace("[smtp]", "[smtpp]")),
     r"sleman.toml.*smtp"),
    (lambda t: __import__("shutil").rmtree(t / "offices"),
     r"mailflow.toml: key 'deployment.offices': expected a folder of office files"),
])
def test_deployment_mistakes_name_the_file_and_key(tmp_path, change, message):
    from mailflow.config.settings import load_deployment

    path = _deployment(tmp_path)
    change(tmp_path)
    with pytest.raises(ConfigError, match=message):
        load_deployment(path, env=TEST_ENV)
