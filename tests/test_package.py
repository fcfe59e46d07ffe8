"""The package layout: predicting never imports the simulation, training or evaluation."""

import subprocess
import sys
import textwrap


def test_the_prediction_path_imports_no_other_stage():
    code = textwrap.dedent("""
        import sys
        import ccdnb, ccdnb.api, ccdnb.predict, ccdnb.model, ccdnb.normalize, ccdnb.fitsio
        import ccdnb.catalog, ccdnb.signal_floor, ccdnb.tiling, ccdnb.classes
        import ccdnb.commands.predict
        ccdnb.segment  # the lazy public API
        stages = ("ccdnb.simulation", "ccdnb.training", "ccdnb.evaluation", "ccdnb.reproduce")
        print(sorted(m for m in sys.modules if m.startswith(stages)))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_simulation_exports_its_public_names_once():
    import ccdnb.simulation as simulation
    import ccdnb.simulation.dataset as dataset

    assert set(dataset.__all__) <= set(simulation.__all__)
    assert all(hasattr(simulation, name) for name in simulation.__all__)
