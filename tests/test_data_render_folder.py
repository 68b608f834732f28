"""The render folder reader: typed pages, the one fold rule, and bad folders refused naming the manifest."""
from __future__ import annotations

import pytest

from vizecg.data import RenderFolder
from vizecg.data.render_folder import photo_condition
from vizecg.errors import DataError

HEADER = "id,record_id,patient_id,image,label,fold,split,layout,photo,seed,NORM,MI,STTC,CD,HYP,normal"


def _folder(tmp_path, *lines: str, header: str = HEADER):
    (tmp_path / "manifest.csv").write_text("\n".join((header, *lines)) + "\n")
    return tmp_path


def test_pages_are_typed_and_split_by_the_fold_rule(tmp_path):
    root = _folder(tmp_path,
                   "00001_00000,00001,15709,images/00001_00000.jpg,labels/00001_00000.json,3,train,3x4+1,phone,7,"
                   "1,0,0,0,0,1",
                   "00009_00001,00009,1,images/00009_00001.jpg,labels/00009_00001.json,9,val,3x4+1,phone,8,0,1,0,0,0,0",
                   # fold 10: the YOLO view files it under val, the rule makes it test
                   "00010_00002,00010,2,images/00010_00002.jpg,labels/00010_00002.json,10,val,6x2,scan,9,,,,,,",
                   # no fold (MIT-BIH, PTB-XL records known only by their split): the split as given
                   "00600_00003,00600,,images/00600_00003.jpg,labels/00600_00003.json,,test,3x4+1,none,10,0,0,0,0,1,0")
    folder = RenderFolder(root)
    assert len(folder) == 4 and [p.id for p in folder] == ["00001_00000", "00009_00001", "00010_00002", "00600_00003"]
    first, _, test, no_fold = folder.pages
    assert first.fold == 3 and first.split == "train" and first.patient_id == "15709" and first.photo == "phone"
    assert first.image == root / "images" / "00001_00000.jpg" and first.signal == root / "signals" / "00001.npz"
    assert first.yolo_image == root / "yolo" / "images" / "train" / "00001_00000.jpg"
    assert first.labels == {"NORM": 1, "MI": 0, "STTC": 0, "CD": 0, "HYP": 0, "normal": 1}
    assert first.family == "" and first.extra == {"seed": "7"}  # folders made before the family column
    assert test.split == "test" and test.yolo_split == "val" and test.labels["NORM"] is None
    assert test.yolo_label == root / "yolo" / "labels" / "val" / "00010_00002.txt"
    assert no_fold.fold is None and no_fold.split == "test"
    assert [p.id for p in folder.select(splits=["val"])] == ["00009_00001"]
    assert [p.id for p in folder.select(folds=[9, 10])] == ["00009_00001", "00010_00002"]
    assert [p.id for p in folder.select(splits=["train", "test"], record_ids=["10", "00600"])] == ["00600_00003"]


def test_background_images_read_without_record_or_fold(tmp_path):
    root = _folder(tmp_path, "neg_5_00000,images/neg_5_00000.jpg,labels/neg_5_00000.json,,train,none,none,text,5,0",
                   header="id,image,label,fold,split,layout,photo,kind,seed,index")
    page = RenderFolder(root).pages[0]
    assert page.record_id == "" and page.signal is None and page.fold is None and page.split == "train"
    assert page.extra == {"kind": "text", "seed": "5", "index": "0"} and page.labels == {}
    with pytest.raises(DataError, match="lacks column.s. record_id"):
        RenderFolder(root, require=("record_id",))
    with pytest.raises(DataError, match="no signal"):
        page.read_signal()


@pytest.mark.parametrize("lines,match", [
    ((), "lists no pages"),
    (("a,1,1,images/a.png,labels/a.json,x,train,3x4,none,0,1,0,0,0,0,1",), "line 2: fold 'x' is not a whole number"),
    (("a,1,1,images/a.png,labels/a.json,11,train,3x4,none,0,1,0,0,0,0,1",), "fold 11 is not a PTB-XL strat_fold"),
    (("a,1,1,images/a.png,labels/a.json,,holdout,3x4,none,0,1,0,0,0,0,1",), "split 'holdout' is not one of"),
    (("a,1,1,images/a.png",), "line 2 does not have the header's 16 cells"),
])
def test_bad_manifests_are_refused_naming_the_file(tmp_path, lines, match):
    root = _folder(tmp_path, *lines)
    with pytest.raises(DataError, match=match) as err:
        RenderFolder(root)
    assert "manifest.csv" in str(err.value)


def test_missing_or_unreadable_manifests_name_the_file(tmp_path):
    with pytest.raises(DataError, match="no manifest.csv: not a folder written by `vizecg render`"):
        RenderFolder(tmp_path)
    (tmp_path / "manifest.csv").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(DataError, match="manifest.csv: not a readable CSV"):
        RenderFolder(tmp_path)
    (tmp_path / "manifest.csv").write_text("id,image\n00001_00000,images/00001_00000.png\n")
    with pytest.raises(DataError, match="manifest.csv: lacks column.s. label"):
        RenderFolder(tmp_path)


def test_label_json_errors_name_the_file(tmp_path):
    root = _folder(tmp_path, "a,1,1,images/a.png,labels/a.json,1,train,3x4,none,0,1,0,0,0,0,1")
    page = RenderFolder(root).pages[0]
    with pytest.raises(DataError, match="a.json: label JSON not found"):
        page.read_label()
    (root / "labels").mkdir()
    page.label.write_text("{not json")
    with pytest.raises(DataError, match="a.json: label JSON is not valid JSON"):
        page.read_truth()
    page.label.write_text('{"width": 10}')
    with pytest.raises(DataError, match="a.json: label JSON is not a page's ground truth"):
        page.read_truth()


def test_photo_condition_names_the_preset_a_mixed_page_drew():
    assert photo_condition({"preset": "mixed", "mixed": {"base": "phone", "strength": 1.1}}, "mixed") == "phone"
    assert photo_condition({"preset": "scan"}, "scan") == "scan"
    assert photo_condition({}, "photocopy") == "photocopy"  # the job's preset where the label records none
    assert photo_condition(None) == "none"
