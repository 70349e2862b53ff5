import pytest

from torchlab import build_config as bc


def test_cuda_is_built_when_torch_and_toolkit_allow():
    decision = bc.decide_cuda(None, "13.0", "/usr/local/cuda")
    assert decision.enabled and "13.0" in decision.reason


@pytest.mark.parametrize("torch_cuda, cuda_home, why", [
    (None, "/usr/local/cuda", "CPU-only build"),
    ("13.0", None, "no CUDA toolkit found"),
])
def test_cuda_is_left_out_with_the_reason(torch_cuda, cuda_home, why):
    decision = bc.decide_cuda("", torch_cuda, cuda_home)
    assert not decision.enabled and why in decision.reason


def test_switch_0_turns_cuda_off():
    assert not bc.decide_cuda("0", "13.0", "/usr/local/cuda").enabled


def test_switch_1_fails_loudly_when_cuda_cannot_be_built():
    with pytest.raises(bc.BuildConfigError, match="TORCHLAB_CUDA=1 but .*CPU-only build"):
        bc.decide_cuda("1", None, "/usr/local/cuda")
    assert bc.decide_cuda("1", "13.0", "/usr/local/cuda").enabled


def test_switch_rejects_other_values():
    with pytest.raises(bc.BuildConfigError, match="must be 0 or 1"):
        bc.decide_cuda("yes", "13.0", "/usr/local/cuda")


def test_arch_list_prefers_the_users_setting():
    assert bc.cuda_arch_list("8.6", [(9, 0)]) == ("8.6", "TORCH_CUDA_ARCH_LIST is set")


def test_arch_list_follows_visible_gpus_with_hopper_as_9_0a():
    archs, source = bc.cuda_arch_list(None, [(9, 0), (8, 0), (9, 0)])
    assert archs == "8.0;9.0a" and source == "the visible GPUs"
    assert bc.cuda_arch_list(None, [(8, 9)])[0] == "8.9"


def test_arch_list_without_gpu_is_ampere_and_hopper():
    assert bc.cuda_arch_list(None, [])[0] == "8.0;9.0a"


def _wheel_include(site, name, *headers):
    folder = site / "nvidia" / name / "include"
    folder.mkdir(parents=True)
    for header in headers:
        (folder / header).write_text("")
    return str(folder)


def test_library_headers_come_from_the_toolkit_when_it_has_them(tmp_path):
    toolkit = tmp_path / "cuda"
    (toolkit / "include").mkdir(parents=True)
    (toolkit / "include" / "cublas_v2.h").write_text("")
    site = tmp_path / "site"
    _wheel_include(site, "cu13", "cublas_v2.h")
    assert bc.cuda_library_include_dirs(str(toolkit), [str(site)]) == [str(toolkit / "include")]


def test_library_headers_from_cuda13_wheels(tmp_path):
    site = tmp_path / "site"
    cu13 = _wheel_include(site, "cu13", "cublas_v2.h", "cusparse.h")
    assert bc.cuda_library_include_dirs(str(tmp_path / "bare"), [str(site)]) == [cu13]


def test_library_headers_from_cuda12_wheels_take_every_library_folder(tmp_path):
    site = tmp_path / "site"
    folders = [_wheel_include(site, "cublas", "cublas_v2.h"),
               _wheel_include(site, "cusolver", "cusolverDn.h"),
               _wheel_include(site, "cusparse", "cusparse.h")]
    assert bc.cuda_library_include_dirs(str(tmp_path / "bare"), [str(site)]) == folders


def test_no_library_headers_anywhere(tmp_path):
    site = tmp_path / "site"
    _wheel_include(site, "cudnn", "cudnn.h")
    assert bc.cuda_library_include_dirs(str(tmp_path / "bare"), [str(site)]) == []
