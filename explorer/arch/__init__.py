"""The architecture: a spec describes a network; the plan derived from it feeds the builder, the
analysis, the diagram, the code export, and the checks against torchvision's and timm's models."""
