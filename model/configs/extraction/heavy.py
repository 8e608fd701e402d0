# Extraction with heavy models: Faster R-CNN R50-FPN (1333x800) + HRNet-W32 (256x192).
_base_ = ["light.py"]

detector = dict(model="faster-rcnn", batch_frames=2)
pose = dict(model="hrnet-w32")
