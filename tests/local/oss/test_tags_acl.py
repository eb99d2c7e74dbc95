"""Object tagging (with OSS's validation errors) and ACLs (object and bucket, anonymous access honoured), with
oss2 and the v2 SDK."""

from __future__ import annotations

import alibabacloud_oss_v2 as oss_v2
import oss2
import pytest
import requests

from osscallback.local.oss import LocalOSS
from tests.support.oss_clients import make_v2


def _status(exc: pytest.ExceptionInfo[oss_v2.exceptions.OperationError]) -> tuple[int, str]:
    err = exc.value.unwrap()
    return int(getattr(err, "status_code", 0)), str(getattr(err, "code", ""))


# --- tagging ---------------------------------------------------------------------------------------------------------


def test_oss2_object_tagging(bucket: oss2.Bucket) -> None:
    bucket.put_object("tagged.txt", b"x", headers={"x-oss-tagging": "a=1&b=with%20space&empty"})
    assert bucket.get_object_tagging("tagged.txt").tag_set.tagging_rule == {"a": "1", "b": "with space", "empty": ""}
    assert bucket.head_object("tagged.txt").headers["x-oss-tagging-count"] == "3"
    rule = oss2.models.TaggingRule()
    rule.add("project", "alpha")
    rule.add("path", "a/b:c=d+e.f_g-h")
    bucket.put_object_tagging("tagged.txt", oss2.models.Tagging(rule))
    assert bucket.get_object_tagging("tagged.txt").tag_set.tagging_rule == {"project": "alpha", "path": "a/b:c=d+e.f_g-h"}
    bucket.delete_object_tagging("tagged.txt")
    assert bucket.get_object_tagging("tagged.txt").tag_set.tagging_rule == {}
    # x-oss-tagging on InitiateMultipartUpload carries over to the object.
    upload_id = bucket.init_multipart_upload("mp-tagged", headers={"x-oss-tagging": "mp=yes"}).upload_id
    etag = bucket.upload_part("mp-tagged", upload_id, 1, b"part").etag
    bucket.complete_multipart_upload("mp-tagged", upload_id, [oss2.models.PartInfo(1, etag)])
    assert bucket.get_object_tagging("mp-tagged").tag_set.tagging_rule == {"mp": "yes"}
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.get_object_tagging("missing")


@pytest.mark.parametrize(
    ("header", "ec"),
    [
        ("&".join(f"k{n}=v" for n in range(11)), "0010-00000217"),  # more than 10 tags
        ("k" * 129 + "=v", "0010-00000209"),  # key longer than 128
        ("k=" + "v" * 257, "0010-00000214"),  # value longer than 256
        ("k=bad%2Cvalue", "0010-00000217"),  # a comma is not allowed
        ("%25%40abc=v", "0010-00000217"),  # nor % and @ (Unicode letters are: test_sdk_parity.py)
        ("a=1&a=2", "0010-00000217"),  # keys are unique
        ("aa=bb=cc", "0010-00000219"),  # not key=value
    ],
)
def test_oss2_tagging_validation_errors(bucket: oss2.Bucket, header: str, ec: str) -> None:
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        bucket.put_object("bad-tags.txt", b"x", headers={"x-oss-tagging": header})
    assert (exc.value.status, exc.value.code, exc.value.ec) == (400, "InvalidTag", ec)
    assert not bucket.object_exists("bad-tags.txt")


def test_v2_object_tagging(local_oss: LocalOSS, v2client: oss_v2.Client) -> None:
    b = local_oss.bucket
    v2client.put_object(oss_v2.PutObjectRequest(bucket=b, key="v2tag", body=b"x", tagging="k1=v1"))
    tags = v2client.get_object_tagging(oss_v2.GetObjectTaggingRequest(bucket=b, key="v2tag")).tag_set.tags
    assert [(t.key, t.value) for t in tags] == [("k1", "v1")]
    v2client.put_object_tagging(
        oss_v2.PutObjectTaggingRequest(
            bucket=b,
            key="v2tag",
            tagging=oss_v2.Tagging(tag_set=oss_v2.TagSet(tags=[oss_v2.Tag(key="x", value="1"), oss_v2.Tag(key="y")])),
        )
    )
    tags = v2client.get_object_tagging(oss_v2.GetObjectTaggingRequest(bucket=b, key="v2tag")).tag_set.tags
    assert [(t.key, t.value or "") for t in tags] == [("x", "1"), ("y", "")]
    v2client.delete_object_tagging(oss_v2.DeleteObjectTaggingRequest(bucket=b, key="v2tag"))
    assert not v2client.get_object_tagging(oss_v2.GetObjectTaggingRequest(bucket=b, key="v2tag")).tag_set.tags
    too_many = oss_v2.TagSet(tags=[oss_v2.Tag(key=f"k{n}", value="v") for n in range(11)])
    with pytest.raises(oss_v2.exceptions.OperationError) as exc:
        v2client.put_object_tagging(
            oss_v2.PutObjectTaggingRequest(bucket=b, key="v2tag", tagging=oss_v2.Tagging(tag_set=too_many))
        )
    assert _status(exc) == (400, "InvalidTag")
    with pytest.raises(oss_v2.exceptions.OperationError) as exc:
        v2client.put_object(oss_v2.PutObjectRequest(bucket=b, key="v2bad", body=b"x", tagging="k=" + "v" * 257))
    assert _status(exc) == (400, "InvalidTag")


# --- ACLs ------------------------------------------------------------------------------------------------------------


def test_oss2_object_and_bucket_acls(bucket: oss2.Bucket) -> None:
    bucket.put_object("acl.txt", b"x")
    assert bucket.get_object_acl("acl.txt").acl == "default"
    bucket.put_object_acl("acl.txt", oss2.OBJECT_ACL_PUBLIC_READ)
    assert bucket.get_object_acl("acl.txt").acl == "public-read"
    bucket.put_object("acl2.txt", b"x", headers={"x-oss-object-acl": "private"})
    assert bucket.get_object_acl("acl2.txt").acl == "private"
    upload_id = bucket.init_multipart_upload("acl-mp", headers={"x-oss-object-acl": "public-read-write"}).upload_id
    etag = bucket.upload_part("acl-mp", upload_id, 1, b"p").etag
    bucket.complete_multipart_upload("acl-mp", upload_id, [oss2.models.PartInfo(1, etag)])
    assert bucket.get_object_acl("acl-mp").acl == "public-read-write"
    with pytest.raises(oss2.exceptions.InvalidArgument):
        bucket.put_object_acl("acl.txt", "everyone-may")
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.put_object_acl("missing", "private")
    assert bucket.get_bucket_acl().acl == "private"
    bucket.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ)
    assert bucket.get_bucket_acl().acl == "public-read"
    assert bucket.get_bucket_info().acl.grant == "public-read"
    with pytest.raises(oss2.exceptions.InvalidArgument):
        bucket.put_bucket_acl("default")  # "default" is for objects only


def test_oss2_anonymous_access_follows_acls(local_oss: LocalOSS, bucket: oss2.Bucket) -> None:
    anon = oss2.Bucket(oss2.AnonymousAuth(), local_oss.endpoint, local_oss.bucket)
    bucket.put_object("pub.txt", b"public")
    # Private bucket, default object ACL: nothing anonymous works.
    with pytest.raises(oss2.exceptions.AccessDenied):
        anon.get_object("pub.txt")
    with pytest.raises(oss2.exceptions.AccessDenied):
        anon.put_object("anon.txt", b"x")
    with pytest.raises(oss2.exceptions.AccessDenied):
        anon.list_objects()
    # An object made public-read is readable; the rest of the bucket is not.
    bucket.put_object_acl("pub.txt", "public-read")
    assert anon.get_object("pub.txt").read() == b"public"
    assert requests.get(f"{local_oss.endpoint}/{local_oss.bucket}/pub.txt", timeout=30).content == b"public"
    bucket.put_object("secret.txt", b"s", headers={"x-oss-object-acl": "private"})
    with pytest.raises(oss2.exceptions.AccessDenied):
        anon.get_object("secret.txt")
    # A public-read bucket: objects with the default ACL are readable and listable, not writable.
    bucket.put_bucket_acl("public-read")
    bucket.put_object("inherits.txt", b"i")
    assert anon.get_object("inherits.txt").read() == b"i"
    assert "inherits.txt" in [o.key for o in anon.list_objects().object_list]
    with pytest.raises(oss2.exceptions.AccessDenied):
        anon.get_object("secret.txt")  # its own private ACL wins over the bucket's
    with pytest.raises(oss2.exceptions.AccessDenied):
        anon.put_object("anon.txt", b"x")
    with pytest.raises(oss2.exceptions.NoSuchKey):
        anon.get_object("nothing-here")  # a readable bucket tells the truth: 404
    # public-read-write: anonymous writes too; ACL and tagging changes stay the owner's.
    bucket.put_bucket_acl("public-read-write")
    assert anon.put_object("anon.txt", b"anonymous upload").status == 200
    assert bucket.get_object("anon.txt").read() == b"anonymous upload"
    with pytest.raises(oss2.exceptions.AccessDenied):
        anon.put_object_acl("anon.txt", "private")
    with pytest.raises(oss2.exceptions.AccessDenied):
        anon.get_bucket_acl()
    anon.delete_object("anon.txt")
    assert not bucket.object_exists("anon.txt")


def test_v2_acls_and_anonymous_access(local_oss: LocalOSS, v2client: oss_v2.Client) -> None:
    b = local_oss.bucket
    anon = make_v2(local_oss, anonymous=True)
    v2client.put_object(oss_v2.PutObjectRequest(bucket=b, key="v2acl", body=b"v2", acl="public-read"))
    assert v2client.get_object_acl(oss_v2.GetObjectAclRequest(bucket=b, key="v2acl")).acl == "public-read"
    assert anon.get_object(oss_v2.GetObjectRequest(bucket=b, key="v2acl")).body.read() == b"v2"
    v2client.put_object_acl(oss_v2.PutObjectAclRequest(bucket=b, key="v2acl", acl="private"))
    with pytest.raises(oss_v2.exceptions.OperationError) as exc:
        anon.get_object(oss_v2.GetObjectRequest(bucket=b, key="v2acl"))
    assert _status(exc) == (403, "AccessDenied")
    assert v2client.get_bucket_acl(oss_v2.GetBucketAclRequest(bucket=b)).acl == "private"
    v2client.put_bucket_acl(oss_v2.PutBucketAclRequest(bucket=b, acl="public-read-write"))
    assert v2client.get_bucket_acl(oss_v2.GetBucketAclRequest(bucket=b)).acl == "public-read-write"
    anon.put_object(oss_v2.PutObjectRequest(bucket=b, key="from-anon", body=b"hi"))
    got = v2client.get_object(oss_v2.GetObjectRequest(bucket=b, key="from-anon"))
    assert got.body.read() == b"hi"
    with pytest.raises(oss_v2.exceptions.OperationError) as exc:
        anon.put_bucket_acl(oss_v2.PutBucketAclRequest(bucket=b, acl="private"))
    assert _status(exc) == (403, "AccessDenied")


def test_anonymous_post_object_needs_a_public_read_write_bucket(local_oss: LocalOSS, bucket: oss2.Bucket) -> None:
    from tests.support.oss_clients import post_form

    form = {"key": "anon-form.txt", "x-oss-tagging": "via=form", "x-oss-object-acl": "public-read"}
    denied = post_form(local_oss, form, b"unsigned")
    assert denied.status_code == 403 and b"AccessDenied" in denied.content
    bucket.put_bucket_acl("public-read-write")
    assert post_form(local_oss, form, b"unsigned").status_code == 204
    assert bucket.get_object("anon-form.txt").read() == b"unsigned"
    assert bucket.get_object_tagging("anon-form.txt").tag_set.tagging_rule == {"via": "form"}
    assert bucket.get_object_acl("anon-form.txt").acl == "public-read"
