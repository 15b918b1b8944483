"""What the export, the gateway, the load tests and the tests agree on: the files one writes and the others read.

The serving metadata, the drift reference profile and its bins, which version folder is served, and the
labelled ``sentence<TAB>label`` files. Standard library and numpy only: the gateway's image carries this
package whole, and nothing here may import torch, FastAPI or any of the packages that import it.
"""
