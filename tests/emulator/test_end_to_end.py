"""COS uploads through the real COS SDK fire SCF functions through COS triggers.

The function itself reads the object back through the COS SDK, using the bucket and key from
its event, as a real COS-triggered function does. Functions run isolated, as on SCF: the SDK
(built for SCF's platform) and the provider's core are in the function's package.
"""

from __future__ import annotations

import json

from scf_snova_devel.scf_api import COS_SDK, call, create_function

READS_THE_OBJECT = """
import os
from qcloud_cos import CosConfig, CosS3Client
from scf_snova_core.events import object_key_from_record

def main_handler(event, context):
    record = event["Records"][0]
    bucket, key = object_key_from_record(record)
    result = {"bucket": bucket, "key": key, "event": record["event"]["eventName"]}
    if record["event"]["eventName"].startswith("cos:ObjectCreated"):
        client = CosS3Client(CosConfig(
            Region=os.environ["TENCENTCLOUD_REGION"],
            SecretId=os.environ["COS_SECRET_ID"],
            SecretKey=os.environ["COS_SECRET_KEY"],
            Scheme="http", IP="127.0.0.1", Port=int(os.environ["COS_PORT"]),
        ))
        body = client.get_object(Bucket=bucket, Key=key)["Body"].get_raw_stream().read()
        result.update(size=len(body), first_line=body.split(b"\\n", 1)[0].decode())
    print("handled", key)
    return result
"""


PACKAGE = {"include": ("scf_snova_core",), "requirements": (COS_SDK,)}


def cos_environment(emulator) -> dict:
    cfg = emulator.config
    variables = {
        "COS_SECRET_ID": cfg.secret_id,
        "COS_SECRET_KEY": cfg.secret_key,
        "COS_PORT": str(emulator.port),
    }
    return {"Variables": [{"Key": k, "Value": v} for k, v in variables.items()]}


def bind(scf_client, emulator, function, bucket, event, prefix="", suffix=""):
    call(
        scf_client,
        "CreateTrigger",
        {
            "FunctionName": function,
            "TriggerName": f"{bucket}.cos.{emulator.config.region}.myqcloud.com",
            "Type": "cos",
            "TriggerDesc": json.dumps(
                {"event": event, "filter": {"Prefix": prefix, "Suffix": suffix}}
            ),
        },
    )


def test_sdk_upload_fires_the_trigger_with_the_right_event(
    emulator, scf_client, cos_client, unique_name, bucket, tmp_path
):
    name = unique_name("fn")
    create_function(
        scf_client,
        name,
        source=READS_THE_OBJECT,
        Environment=cos_environment(emulator),
        Timeout=30,
        **PACKAGE,
    )
    bind(scf_client, emulator, name, bucket, "cos:ObjectCreated:*", "snova/", ".log")
    for decoy in ("snova/a.txt", "other/a.log", "snova.log", "xsnova/a.log", "snova/a.log.gz"):
        cos_client.put_object(Bucket=bucket, Key=decoy, Body=b"decoy\n")
    cos_client.put_object(Bucket=bucket, Key="snova/2024/app 1.log", Body=b"first line\nsecond\n")
    (record,) = emulator.control.wait_for_invocations(1, name, timeout=30)
    assert len(emulator.control.invocations(name)) == 1  # no decoy fired
    assert record["status"] == "success", record["log"]
    assert json.loads(record["ret_msg"]) == {
        "bucket": bucket,
        "key": "snova/2024/app 1.log",
        "event": "cos:ObjectCreated:Put",
        "size": 18,
        "first_line": "first line",
    }
    entry = record["event"]["Records"][0]
    short, appid = bucket.rsplit("-", 1)
    assert entry["cos"]["cosObject"]["key"] == f"/{appid}/{short}/snova/2024/app 1.log"
    assert entry["cos"]["cosBucket"] == {
        "name": short,
        "appid": appid,
        "region": "gz",
        "cosRegion": emulator.config.region,
        "s3Region": emulator.config.region,
    }
    assert entry["event"]["eventSource"] == "qcs::cos"
    assert isinstance(entry["event"]["eventTime"], int)
    assert entry["cos"]["cosObject"]["meta"]["x-cos-request-id"]

    # a multipart upload (upload_file above PartSize) fires CompleteMultipartUpload
    big = tmp_path / "big.log"
    big.write_bytes(b"header\n" + b"x" * (2 * 1024 * 1024 + 17))
    cos_client.upload_file(Bucket=bucket, Key="snova/big.log", LocalFilePath=str(big), PartSize=1)
    records = emulator.control.wait_for_invocations(2, name, timeout=30)
    multipart = json.loads(records[-1]["ret_msg"])
    assert multipart["event"] == "cos:ObjectCreated:CompleteMultipartUpload"
    assert (multipart["size"], multipart["first_line"]) == (big.stat().st_size, "header")


def test_sdk_delete_fires_a_removal_trigger(emulator, scf_client, cos_client, unique_name, bucket):
    created, removed = unique_name("fn"), unique_name("fn")
    for function in (created, removed):
        create_function(
            scf_client,
            function,
            source=READS_THE_OBJECT,
            Environment=cos_environment(emulator),
            Timeout=30,
            **PACKAGE,
        )
    bind(scf_client, emulator, created, bucket, "cos:ObjectCreated:*", "in/")
    bind(scf_client, emulator, removed, bucket, "cos:ObjectRemove:*", "in/")
    cos_client.put_object(Bucket=bucket, Key="in/x.csv", Body=b"1\n")
    (creation,) = emulator.control.wait_for_invocations(1, created, timeout=30)
    assert json.loads(creation["ret_msg"])["event"] == "cos:ObjectCreated:Put"
    assert emulator.control.invocations(removed) == []
    cos_client.delete_object(Bucket=bucket, Key="in/x.csv")
    (removal,) = emulator.control.wait_for_invocations(1, removed, timeout=30)
    assert json.loads(removal["ret_msg"]) == {
        "bucket": bucket,
        "key": "in/x.csv",
        "event": "cos:ObjectRemove:Delete",
    }
    assert len(emulator.control.invocations(created)) == 1
