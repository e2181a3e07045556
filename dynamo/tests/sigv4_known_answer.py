# The known answer in dynamo/src/lib.rs (`signs_as_botocore_does`), computed by botocore,
# AWS's own Python signer: `python3 dynamo/tests/sigv4_known_answer.py`.
import datetime
from unittest import mock
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

body = b'{"TableName":"vitrine","Key":{"pk":{"S":"SITE#demo-shop"},"sk":{"S":"META"}}}'
req = AWSRequest(method="POST", url="https://dynamodb.eu-west-1.amazonaws.com/", data=body, headers={
    "content-type": "application/x-amz-json-1.0",
    "x-amz-target": "DynamoDB_20120810.GetItem",
})
creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token-example")
with mock.patch("botocore.auth.get_current_datetime", return_value=datetime.datetime(2026, 11, 24, 12, 0, 0)):
    SigV4Auth(creds, "dynamodb", "eu-west-1").add_auth(req)
for k in ("X-Amz-Date", "X-Amz-Security-Token", "Authorization"):
    print(k, "=", req.headers[k])
